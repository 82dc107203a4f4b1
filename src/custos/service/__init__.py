"""The service layer: each change of state is a plain function that runs in one
unit of work and commits once (STYLE 2). Faces call these; they never touch tables."""
