//! Turning free text from an agent into full-text queries: tokens and stop words (the
//! services a text names are found in `similar`).

/// Words too common in incident prose to say anything about similarity.
const STOP: &[&str] = &[
    "a", "about", "after", "again", "all", "also", "an", "and", "any", "are", "as", "at", "be",
    "been", "before", "being", "but", "by", "can", "could", "did", "do", "does", "during", "each",
    "for", "from", "had", "has", "have", "how", "i", "if", "in", "into", "is", "it", "its", "just",
    "keeps", "like", "more", "most", "my", "no", "not", "now", "of", "on", "once", "or", "our",
    "out", "over", "same", "seems", "service", "services", "should", "so", "some", "still", "than",
    "that", "the", "their", "them", "then", "there", "these", "they", "this", "those", "to", "too",
    "up", "very", "was", "we", "were", "what", "when", "where", "which", "while", "who", "why",
    "will", "with", "would", "you",
];

/// Lower-cased alphanumeric tokens of `text`, without stop words and duplicates,
/// at most `max` of them, in first-seen order.
pub fn terms(text: &str, max: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in text.split(|c: char| !c.is_alphanumeric()) {
        if raw.is_empty() || raw.len() > 40 {
            continue;
        }
        let t = raw.to_lowercase();
        if t.len() < 2 && !t.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        if STOP.contains(&t.as_str()) || out.contains(&t) {
            continue;
        }
        out.push(t);
        if out.len() >= max {
            break;
        }
    }
    out
}

/// An FTS5 query matching any of the terms (each quoted, so no term is read as syntax).
/// None when there is nothing to search for.
pub fn fts_any(terms: &[String]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" OR "),
    )
}

/// An FTS5 query matching all of the terms.
pub fn fts_all(terms: &[String]) -> Option<String> {
    if terms.is_empty() {
        return None;
    }
    Some(
        terms
            .iter()
            .map(|t| format!("\"{}\"", t.replace('"', "")))
            .collect::<Vec<_>>()
            .join(" AND "),
    )
}

/// Maps a raw bm25 value (more negative is better) to 0..1.
pub fn bm25_to_unit(bm25: f64) -> f64 {
    let r = (-bm25).max(0.0);
    r / (r + 4.0)
}

/// Rounds a score to 3 decimals so results are identical on every surface and run.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms_drop_noise_and_keep_order() {
        let t = terms(
            "Payment service heap keeps growing, GC pauses, after deploy",
            32,
        );
        assert_eq!(
            t,
            vec!["payment", "heap", "growing", "gc", "pauses", "deploy"]
        );
        assert!(terms("   ,,, the of ", 10).is_empty());
        assert_eq!(terms("a b c d e f g h", 3).len(), 0);
    }

    #[test]
    fn fts_queries_quote_every_term() {
        let q = fts_any(&["heap\"".to_string(), "or".to_string()]).unwrap();
        assert_eq!(q, "\"heap\" OR \"or\"");
        assert_eq!(fts_any(&[]), None);
    }
}
