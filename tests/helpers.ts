/** An error shaped like the SDK's service exceptions: what the code matches on is the name. */
export const awsError = (name: string): Error => Object.assign(new Error(name), { name });
