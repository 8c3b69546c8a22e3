"""omnivoice's package: the demo (gradio), training (tensorboard logs through accelerate), data
and evaluation code is never imported at inference (docs/audits/omnivoice.md, finding 2)."""

excludedimports = ["gradio", "webdataset", "tensorboardX", "omnivoice.cli", "omnivoice.training",
                   "omnivoice.data", "omnivoice.eval", "omnivoice.scripts"]
