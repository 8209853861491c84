"""Why a pair matches: reasons in plain Chinese and English, from rules and from the ranker's tree paths."""
