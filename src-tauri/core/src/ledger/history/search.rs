//! A search fragment through the trigram index of sql/006: the index names
//! the few transactions that may hold a fragment, and the history's own
//! `LIKE` test (in `Where`) decides on each, so what a search finds is
//! exactly what reading the whole period would find.
//!
//! The index folds case more widely than `LIKE` (all of Unicode, not only
//! ASCII) and matches trigrams, not the whole fragment, so it names a
//! superset of `LIKE`'s matches, never fewer. It cannot look up fewer than three
//! characters; such a fragment, or one so common that the index names more
//! than [`MAX_CANDIDATES`] transactions (reading the period is then as cheap,
//! and a page stops after its rows anyway), is searched as before.

use rusqlite::Connection;

use crate::ledger::LedgerError;

/// Beyond this many transactions named by the index, the period is read instead.
pub(super) const MAX_CANDIDATES: usize = 5_000;

/// The FTS5 query for any of the needles: for each, every trigram of it
/// (each a quoted string, quotes doubled). The index keeps no positions, so
/// this names the transactions holding all of a needle's trigrams anywhere
/// in them: every one holding the needle, and a few more.
fn match_query(needles: &[String]) -> Option<String> {
    if needles.is_empty() || needles.iter().any(|n| n.chars().count() < 3) {
        return None;
    }
    let any: Vec<String> = needles
        .iter()
        .map(|n| {
            let chars: Vec<char> = n.chars().collect();
            let mut trigrams: Vec<String> = chars
                .windows(3)
                .map(|w| format!("\"{}\"", w.iter().collect::<String>().replace('"', "\"\"")))
                .collect();
            trigrams.sort();
            trigrams.dedup();
            format!("({})", trigrams.join(" AND "))
        })
        .collect();
    Some(any.join(" OR "))
}

/// The ids of every transaction that may hold one of the needles, as a JSON
/// array for `json_each`; `None` when the index cannot narrow the search.
pub(super) fn candidates(conn: &Connection, needles: &[String]) -> Result<Option<String>, LedgerError> {
    let Some(query) = match_query(needles) else {
        return Ok(None);
    };
    let mut stmt = conn.prepare_cached(
        "SELECT d.id FROM transaction_search JOIN transaction_search_docs d ON d.docid = transaction_search.rowid
         WHERE transaction_search MATCH ?1 LIMIT ?2",
    )?;
    let ids = stmt
        .query_map(rusqlite::params![query, MAX_CANDIDATES as i64 + 1], |r| r.get::<_, String>(0))?
        .collect::<Result<Vec<_>, _>>()?;
    if ids.len() > MAX_CANDIDATES {
        return Ok(None);
    }
    Ok(Some(serde_json::to_string(&ids).expect("JSON of strings")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_needles_leave_the_index_out_and_quotes_stay_literal() {
        assert_eq!(match_query(&["ab".into()]), None);
        assert_eq!(match_query(&["0720".into(), "72".into()]), None, "one short needle: the period is read");
        assert_eq!(match_query(&[]), None);
        assert_eq!(match_query(&["a\"b".into()]).as_deref(), Some("(\"a\"\"b\")"));
        assert_eq!(
            match_query(&["NLV-1".into(), "abab".into()]).as_deref(),
            Some("(\"LV-\" AND \"NLV\" AND \"V-1\") OR (\"aba\" AND \"bab\")")
        );
        assert_eq!(match_query(&["•••".into()]).as_deref(), Some("(\"•••\")"), "three characters, not bytes");
    }
}
