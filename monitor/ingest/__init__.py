"""Getting the stories: feeds.txt, fetching feeds and pages over HTTP, parsing them into Articles."""
