"""The hard rules and who may see what: eligibility, filters, live needs, event and listing visibility."""
