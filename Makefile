# Thin wrappers; every target also works as `python3 tasks.py <target>`.
.PHONY: demo test lint bench setup
demo test lint bench setup:
	python3 tasks.py $@
