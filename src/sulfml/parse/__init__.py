"""Text to composition: the notation parser (`formula`), its whole-batch NumPy reader (`bulk`), the rules
they share (`rules`) and pymatgen's reduced formula without pymatgen (`reduced`)."""
