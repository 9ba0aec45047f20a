"""Gradio builders for the tabs; ``compat`` is the one place that knows gradio 3 from 4."""
