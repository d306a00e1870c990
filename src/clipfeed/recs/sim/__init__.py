"""The user simulator: synthetic viewers drive a real ``clipfeed serve`` over HTTP, on For You
and on client-side baseline arms (``clipfeed recs simulate``; docs/design/recommendations.md)."""
