"""The recovery domain: cases, subjects, operators, rules. Imports nothing that does I/O."""
