"""In-process kohya-compatible LoRA training (torch; no gradio, no modules).

Public entry points (see docs/training.md):

- ``config.TrainingConfig`` — every setting, with kohya sd-scripts' argument names; ``validate()``,
  ``save_json`` / ``load_json``; ``config.export_kohya(config, folder, family, num_processes)``.
- ``protocol.TrainableModel`` — what a model must offer (the WebUI adapter implements it).
- ``trainer.Trainer(model, config, on_progress=, on_sample=, on_checkpoint=, stop=).run(resume=False)``.
- ``dataset.scan_dataset(folder)`` — images, captions and the per-file problem report.
- ``checkpoint.load_lora(path)``, ``apply.applied_lora(root, family, path, multiplier)``.
"""
