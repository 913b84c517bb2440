//! Fuzzy matching helpers: name normalisation and "did you mean" suggestions.

/// Lower-cases `s` and drops everything but letters and digits, so that `Hotel Reservation`,
/// `hotel-reservation`, `hotel_reservation` and `HotelReservation` compare equal.
pub(crate) fn normalise(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Edit distance (insertions, deletions, substitutions) between two strings, by characters.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != *cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

/// The `limit` candidates closest to `query` (case-insensitive edit distance; a candidate that
/// contains the query counts as closer), ties broken by the candidates' order.
pub(crate) fn closest<'a>(
    query: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    limit: usize,
) -> Vec<&'a str> {
    let query = query.trim().to_lowercase();
    let mut scored: Vec<(usize, usize, &str)> = candidates
        .into_iter()
        .enumerate()
        .map(|(position, candidate)| {
            let lower = candidate.to_lowercase();
            let distance = if !query.is_empty() && lower.contains(&query) {
                // Only the missing part has to be typed: rank by how much is missing.
                lower.chars().count() - query.chars().count()
            } else {
                edit_distance(&query, &lower)
            };
            (distance, position, candidate)
        })
        .collect();
    scored.sort_unstable();
    scored
        .into_iter()
        .take(limit)
        .map(|(_, _, candidate)| candidate)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalise_ignores_case_and_separators() {
        for spelling in [
            "Hotel Reservation",
            "hotel-reservation",
            "hotel_reservation",
            "HotelReservation",
        ] {
            assert_eq!(normalise(spelling), "hotelreservation");
        }
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("detection-1", "detection-2"), 1);
    }

    #[test]
    fn closest_prefers_small_distances_then_order() {
        let ids = ["a-detection-1", "a-detection-2", "b-localization-1"];
        assert_eq!(
            closest("a-detection-3", ids, 2),
            ["a-detection-1", "a-detection-2"]
        );
        assert_eq!(closest("LOCALIZATION", ids, 1), ["b-localization-1"]);
        assert!(closest("x", ids, 0).is_empty());
    }
}
