"""The information cross-entropy of InfoCatVAE's section 10, proper and as published, on
--num_generated samples of the prior (`icvae.evaluation.information_cross_entropies`)
('information_cross_entropy')."""

from icvae import evaluation
from icvae.evaluators import base


def run(context):
  model = context.model
  yield 'information_cross_entropy', evaluation.information_cross_entropies(
      context.key('info'), model.decode, model.classify, model.prior_means(),
      context.options.num_generated, context.config.likelihood)


base.register(base.Evaluator('information', run,
                             applies=lambda context: 'information' in context.sections,
                             sections=('information',)))
