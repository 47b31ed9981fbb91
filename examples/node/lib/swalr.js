'use strict';
// SWALR (torch.optim.swa_utils), written from docs/spec.md Annex A.17 alone.
const P = require('./pynum');
const S = require('./schedulers');
const { formatParam } = require('./cyclic');

const PI = Math.PI;

// group[key] as Python reads a dict: a group without swa_lr (added after construction) is KeyError: 'swa_lr'
function swaLr(g) {
  if (!('swa_lr' in g)) throw new P.PyError('KeyError', "'swa_lr'");
  return g.swa_lr;
}

class SWALR extends S.LRScheduler {
  constructor(opt, kwargs) {
    const k = (key, d, req) => S.kw('SWALR', kwargs, key, d, req);
    const swaLrs = formatParam('swa_lr', opt, k('swa_lr', null, true));
    const annealEpochs = k('anneal_epochs', 10n), strategy = k('anneal_strategy', 'cos');
    opt.param_groups.forEach((g, i) => { g.swa_lr = swaLrs[i]; }); // before the checks below
    if (strategy !== 'cos' && strategy !== 'linear') {
      throw new P.PyError('ValueError', `anneal_strategy must be one of 'cos' or 'linear', instead got ${P.str(strategy)}`);
    }
    if (!P.isInt(annealEpochs) || P.lt(annealEpochs, 0n)) {
      throw new P.PyError('ValueError', `anneal_epochs must be equal or greater than 0, got ${P.str(annealEpochs)}`);
    }
    super(opt, k('last_epoch', -1n));
    this.anneal_epochs = annealEpochs;
    this._anneal_strategy = strategy; // in the state dict: loading it selects the anneal function
    this._initialStep();
  }
  anneal(t) {
    return this._anneal_strategy === 'cos' ? P.truediv(P.sub(1n, P.cos(P.mul(PI, t))), 2n) : t;
  }
  getLr() {
    let step = P.sub(this._step_count, 1n);
    if (P.eq(this.anneal_epochs, 0n)) step = P.max(1n, step);
    const span = P.max(1n, this.anneal_epochs);
    const prevAlpha = this.anneal(P.max(0n, P.min(1n, P.truediv(P.sub(step, 1n), span))));
    const alpha = this.anneal(P.max(0n, P.min(1n, P.truediv(step, span))));
    return this._optimizer.param_groups.map((g) => {
      const swa = swaLr(g);
      const prev = P.eq(prevAlpha, 1n) ? swa : P.truediv(P.sub(g.lr, P.mul(prevAlpha, swa)), P.sub(1n, prevAlpha));
      return P.add(P.mul(swa, alpha), P.mul(prev, P.sub(1n, alpha)));
    });
  }
}

module.exports = { SWA: { SWALR } };
