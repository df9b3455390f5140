"""Text to composition: the notation parser (`formula`) and its whole-batch NumPy reader (`bulk`)."""
