"""taoke's fuzzing harnesses, hostile-input builders and campaign script (not shipped in the wheel)."""
