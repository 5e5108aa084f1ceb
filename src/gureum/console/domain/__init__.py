"""The console's pure core: sessions' rules, HTML made safe, traffic splits, dashboard series."""
