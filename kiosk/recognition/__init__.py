"""Recognition: faces (dlib wrapper) -> quality gates -> gallery match -> face-track vote."""
