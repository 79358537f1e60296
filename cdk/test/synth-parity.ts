/**
 * Synthesizes the constructs under each setting of parity-configs.json into
 * `<outdir>/<hub|spoke>/<setting>/`, for tests/e2e/test_cdk_parity.py to hold them equal to
 * template.yaml and spoke-template.yaml under the same settings. Offline: bundling skipped, no
 * account or credentials looked up.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import { AutopilotHub, AutopilotSpoke } from '../lib';

const configs = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'test', 'parity-configs.json'), 'utf8'));
const outdir = process.argv[2];
if (!outdir) throw new Error('usage: synth-parity <outdir>');

const ENV = { account: '111111111111', region: 'eu-west-1' };

function synth(kind: 'hub' | 'spoke', name: string, build: (stack: Stack) => void): void {
  const app = new App({
    outdir: path.join(outdir, kind, name),
    context: { 'aws:cdk:bundling-stacks': [] },
    analyticsReporting: false,
  });
  build(new Stack(app, kind === 'hub' ? 'Hub' : 'Spoke', { env: ENV }));
  app.synth();
}

for (const [name, config] of Object.entries<{ props: Record<string, unknown> }>(configs.hub)) {
  const props = { ...config.props } as Record<string, unknown>;
  for (const schedule of ['sweepSchedule', 'zoneSweepSchedule']) {
    if (typeof props[schedule] === 'string') props[schedule] = events.Schedule.expression(props[schedule] as string);
  }
  synth('hub', name, (stack) => new AutopilotHub(stack, 'Hub', props as never));
}
for (const [name, config] of Object.entries<{ props: Record<string, unknown> }>(configs.spoke)) {
  synth('spoke', name, (stack) => new AutopilotSpoke(stack, 'Spoke', config.props as never));
}
