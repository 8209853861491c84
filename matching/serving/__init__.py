"""Lists as served. ``context`` derives everything of one market once (:class:`MatchContext`); ``matcher`` is
the frozen :class:`Matcher` (context, scorer, policy) that ranks, checks and explains lists over it;
``results`` holds what it returns; ``exposure`` the caller's counts of shows; ``needless`` and
``secondaries`` the markets without financing needs and the S funds' listings."""
