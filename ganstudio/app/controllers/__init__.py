"""Controllers own the state of one job, run its workers and expose Qt signals to views."""
