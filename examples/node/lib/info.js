'use strict';
// The implementation's declaration (spec 7.1), the answer to hello (spec 8.2).
const INFO = {
  name: 'node-example',
  version: '0.1.0',
  protocol: 1n,
  schedulers: ['StepLR', 'MultiStepLR', 'ExponentialLR', 'CosineAnnealingLR', 'LinearLR', 'ReduceLROnPlateau',
    'ConstantLR', 'PolynomialLR', 'LambdaLR', 'MultiplicativeLR', 'ChainedScheduler', 'SequentialLR',
    'CyclicLR', 'OneCycleLR', 'CosineAnnealingWarmRestarts', 'SWALR'],
  features: ['state_dict', 'last_epoch', 'scheduler_first', 'step_epoch', 'fractional_epoch', 'plateau', 'tensor_lr', 'momentum',
    'warnings', 'errors',
    // the interventions of spec 4.5, all of them (a few configurations the spec leaves open are answered
    // unsupported case by case: adapter.js unspecified())
    'skip_optimizer_step', 'scheduler_steps', 'wrap_optimizer_step', 'set_group', 'add_param_group', 'add_scheduler',
    'call_scheduler', 'read_scheduler', 'set_scheduler', 'partial_resume', 'reused_state_dict',
    'add_scheduler_from', 'replace_scheduler'],  // add-scheduler's `from` and `replace` (spec 4.5)
  observables: ['last_lr', 'messages'],
  // Bit-exact with the correctly rounded cos/pow of crmath.js (measured: every declared case passes).
  // With V8's Math.cos/Math.pow (NODE_EXAMPLE_MATH=v8) the measured worst case is 4 ulp (2.85 * 2^-52 relative).
  tolerance: process.env.NODE_EXAMPLE_MATH === 'v8'
    ? { rel: 4 * 2 ** -52, abs: 0.0, reason: "V8's Math.cos/Math.pow differ from glibc's in the last bit (measured "
      + '3.3% of cos and 7.7% of pow arguments); recursive schedules grow it to 4 ulp (max measured 2.85 * 2^-52 relative)' }
    : { rel: 0.0, abs: 0.0, reason: '' },
  mirrors: null,
};
module.exports = { INFO };
