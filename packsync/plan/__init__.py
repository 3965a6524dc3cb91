"""The plan: desired and live state compared into typed changes, the safety limits, and the
plan shown as text, markdown or JSON."""
