import { provisionUnderThrottling } from '../../bench/provision';

/**
 * Cognito throttling is injected on the wire: a loopback proxy in front of cognito-local answers one in
 * ten AdminCreateUser/AdminSetUserPassword calls with HTTP 400 TooManyRequestsException, as Cognito does
 * over its quota, and the SDK parses it as it would Cognito's. The rate is measured by `npm run bench`,
 * not here: only the counts are asserted.
 */
describe('provisioning under Cognito throttling', () => {
  it('provisions every user with zero failures', async () => {
    const out = await provisionUnderThrottling({ users: 200, cognitoWriteRps: 400, throttleShare: 0.1 });
    expect(out.failures).toEqual([]);
    expect(out.throttled).toBeGreaterThanOrEqual(40);
    expect(out.results.reduce((sum, r) => sum + r.created, 0)).toBe(200);
    expect(out.results.reduce((sum, r) => sum + r.reused, 0)).toBe(0);
    expect(out.confirmed).toBe(200);
    // Each of the 400 writes succeeded once; the throttled ones were sent again.
    expect(out.writesSent - out.throttled).toBe(400);
  });
});
