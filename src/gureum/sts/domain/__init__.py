"""STS's pure core: sessions, their tokens and limits, errors."""
