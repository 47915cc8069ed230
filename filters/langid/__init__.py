"""The langid stage: fastText lid.176 on a prose view, segment voting, script evidence for Chinese."""
