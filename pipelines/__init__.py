"""Models and generation methods of the studio. Never imports gradio."""
