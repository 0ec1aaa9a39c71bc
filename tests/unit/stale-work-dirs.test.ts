import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeStaleWorkDirs } from '../../src/local/environment';

describe('removeStaleWorkDirs', () => {
  let parent: string;
  beforeEach(() => {
    parent = mkdtempSync(join(tmpdir(), 'stale-dirs-'));
  });
  afterEach(() => rmSync(parent, { recursive: true, force: true }));

  const workDir = (name: string, pid?: number) => {
    const dir = join(parent, name);
    mkdirSync(join(dir, 'cognito'), { recursive: true });
    if (pid !== undefined) writeFileSync(join(dir, 'apiloadtest.pid'), String(pid));
    return dir;
  };

  it('removes only our dirs whose process is gone', () => {
    // A process that has certainly exited.
    const deadPid = spawnSync(process.execPath, ['-e', '0']).pid as number;
    const dead = workDir('apiloadtest-dead', deadPid);
    const alive = workDir('apiloadtest-alive', process.pid);
    const parentAlive = workDir('apiloadtest-parent', process.ppid);
    const noPidFile = workDir('apiloadtest-nopid');
    const otherPrefix = workDir('other-dead', deadPid);

    expect(removeStaleWorkDirs(parent)).toEqual([dead]);
    expect(existsSync(dead)).toBe(false);
    for (const kept of [alive, parentAlive, noPidFile, otherPrefix]) expect(existsSync(kept)).toBe(true);
  });
});
