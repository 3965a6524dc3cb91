# Thin wrappers; every target also works as `python3 tasks.py <target>`.
.PHONY: demo test lint bench mutate setup lock
demo test lint bench mutate setup lock:
	python3 tasks.py $@
