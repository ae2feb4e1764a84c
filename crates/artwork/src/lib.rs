//! 印模 artwork: cut seal impressions out of scans and render standard seals. Bytes in, image out.
