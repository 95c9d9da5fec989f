// Package news owns the path of a headline from its source to the
// strategy: parsing RSS and Atom feeds (encoding/xml), polling them with
// conditional GET and backoff (Poller), verifying and parsing signed
// webhooks (VerifyWebhook, ParseWebhook), de-duplicating by title and link
// (Deduper), and fanning the sources into one stream (Pipeline) with a
// ring of recent headlines and the "test this rule" replay (TestRule).
//
// The domain (Headline, NewsFeed, NewsRule, NewsSource) lives in the root
// package; this package imports only the root package and the standard
// library, never a store, a venue, the engine or the server. The server
// calls VerifyWebhook and ParseWebhook for POST /api/v1/news/hooks/{id}
// and hands the result to Pipeline.Handle; the engine is the Pipeline's
// sink.
package news
