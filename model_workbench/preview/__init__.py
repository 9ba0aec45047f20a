"""Preview grid plans (epochs x weights x prompts), labelled grid images and manifests (Pillow)."""
