from __future__ import annotations

import pytest

from monitor.errors import FeedError
from monitor.ingest.parse import article_id, canonical_url, html_to_text, parse_feed
from monitor.records import FeedSource, FetchResult


def fetched(body: str | bytes, url: str = "https://feeds.example.org/f", **headers: str) -> FetchResult:
    content = body.encode() if isinstance(body, str) else body
    return FetchResult(source=FeedSource(url), status=200, content=content, headers=headers, final_url=url)


def test_html_keeps_paragraphs_and_drops_scripts() -> None:
    html = (
        "<h2>Results</h2><p>Response was <b>64%</b> vs. 28%.</p>"
        "<p>Second&nbsp;paragraph<br/>after a break</p><script>alert(1)</script>"
        "<ul><li>one</li><li>two</li></ul><figure><img alt='x'><figcaption>A nurse</figcaption></figure>"
    )
    assert html_to_text(html) == (
        "Results\n\nResponse was 64% vs. 28%.\n\nSecond paragraph\n\nafter a break\n\none\n\ntwo\n\nA nurse"
    )


@pytest.mark.parametrize("junk", ["", "   ", "<", "<p>", "\x00\x01<p>ok</p>", "a &amp; b"])
def test_html_to_text_never_raises(junk: str) -> None:
    assert isinstance(html_to_text(junk), str)


def test_canonical_url_drops_tracking_and_feed_parameters() -> None:
    assert (
        canonical_url("HTTPS://News.Example.com:443/a/b?utm_source=rss&id=7&rss=1&fbclid=x#top")
        == "https://news.example.com/a/b?id=7"
    )
    assert canonical_url("http://example.com:8080/x") == "http://example.com:8080/x"


def test_article_identity_prefers_doi_then_link_then_guid_then_hash() -> None:
    both = {"title": "T", "source": "S"}
    assert article_id(doi="10.1101/X", link="https://a/b", guid="g", **both) == "doi:10.1101/x"
    assert article_id(doi=None, link="https://a/b?utm_medium=rss", guid="g", **both) == "url:https://a/b"
    assert article_id(doi=None, link=None, guid="g", **both) == "guid:g"
    assert article_id(doi=None, link=None, guid=None, **both).startswith("hash:")


RDF = """<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
 xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://connect.medrxiv.org/"><title>medRxiv Psychiatry</title><link>https://medrxiv.org</link>
<description>d</description></channel>
<item rdf:about="https://www.medrxiv.org/content/10.1101/2026.11.02.26300001v2?rss=1">
<title>Ketamine &lt;i&gt;versus&lt;/i&gt; ECT</title>
<link>https://www.medrxiv.org/content/10.1101/2026.11.02.26300001v2?rss=1</link>
<description>Background: text. Results: more text.</description>
<dc:identifier>doi:10.1101/2026.11.02.26300001</dc:identifier>
<dc:date>2026-11-03</dc:date><dc:creator>Ng, A.; Roy, B.</dc:creator>
</item></rdf:RDF>"""


def test_rss10_item_gets_doi_identity_date_and_clean_title() -> None:
    feed = parse_feed(fetched(RDF))
    assert feed.format == "rss10"
    assert feed.title == "medRxiv Psychiatry"
    (article,) = feed.articles
    assert article.id == "doi:10.1101/2026.11.02.26300001"
    assert article.title == "Ketamine versus ECT"
    assert article.published is not None and article.published.date().isoformat() == "2026-11-03"
    assert article.text == "Background: text. Results: more text."


RSS2 = """<?xml version="1.0"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>Health Desk</title><link>https://news.example.com</link><description>x</description>
<item><title>Short</title><link>https://news.example.com/a?utm_source=rss</link>
<description>teaser only</description>
<content:encoded><![CDATA[<p>Full body one.</p><p>Full body two.</p>]]></content:encoded>
<source url="https://wire.example.net/rss">Wire Service</source>
<pubDate>Tue, 17 Nov 2026 09:30:00 GMT</pubDate></item>
<item><title>Duplicate guid</title><link>https://news.example.com/a?utm_source=other</link></item>
</channel></rss>"""


def test_rss20_prefers_full_content_and_publisher_name_and_dedups_within_feed() -> None:
    feed = parse_feed(fetched(RSS2))
    assert feed.format == "rss20"
    (article,) = feed.articles  # the second item is the same canonical link
    assert article.text == "Full body one.\n\nFull body two."
    assert article.source == "Wire Service"
    assert article.id == "url:https://news.example.com/a"


ATOM = """<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">
<title>Press office</title><id>tag:x,2026:feed</id><updated>2026-11-20T00:00:00Z</updated>
<entry><title type="html">Esketamine &amp;amp; older adults</title><id>tag:x,2026:1</id>
<updated>2026-11-20T00:00:00Z</updated><summary>Sum</summary>
<content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"><p>One.</p><p>Two.</p></div></content>
<author><name>Press Office</name></author></entry></feed>"""


def test_atom_entry_without_link_uses_its_id() -> None:
    feed = parse_feed(fetched(ATOM))
    assert feed.format == "atom10"
    (article,) = feed.articles
    assert article.title == "Esketamine & older adults"
    assert article.text == "One.\n\nTwo."
    assert article.id == "guid:tag:x,2026:1"
    assert article.authors == "Press Office"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<!DOCTYPE html><html><body><h1>Not a feed</h1></body></html>", "an HTML page, not a feed"),
        (b"", "empty response"),
        (b"\x89PNG\r\n\x1a\n", "not a feed"),
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "JSON Feed is not supported"),
        (b'<?xml version="1.0"?><opml version="2.0"><body/></opml>', "an OPML subscription list"),
    ],
)
def test_bytes_that_are_not_a_feed_say_what_they_are(body: bytes, reason: str) -> None:
    with pytest.raises(FeedError, match=reason):
        parse_feed(fetched(body, **{"content-type": "text/html"}))


def test_a_truncated_feed_is_read_as_far_as_it_goes() -> None:
    body = RSS2.split("<item><title>Duplicate")[0]  # cut in the middle of the channel
    feed = parse_feed(fetched(body))
    assert feed.format == "rss20" and len(feed.articles) == 1 and feed.bozo
