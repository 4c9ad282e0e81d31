"""Inference: the model's input contract, prediction over a session, reference-mode refinement,
checkpoints, and the whole ``mixdown mix`` pipeline. Needs neither hydra nor a checkout."""
