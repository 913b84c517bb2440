//! Resource quantities (`100m`, `1Gi`, `2k`, `1e3`) as apimachinery's `resource.Quantity`
//! reads, adds and prints them: printers show quantities in their canonical form (`1000m` is
//! `1`, `1024Mi` is `1Gi`, `0.5` is `500m`), and sums keep the format of their first term.
//!
//! ```
//! use aiopslab_sim::table::quantity::{Quantity, canonical};
//! assert_eq!(canonical("1000m").as_deref(), Some("1"));
//! assert_eq!(canonical("1536Mi").as_deref(), Some("1536Mi"));
//! assert_eq!(canonical("0.5").as_deref(), Some("500m"));
//! let sum = Quantity::parse("64Mi").unwrap().add(&Quantity::parse("64Mi").unwrap());
//! assert_eq!(sum.to_string(), "128Mi");
//! ```

use std::fmt;

/// How a quantity is written, which decides how it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `Ki`, `Mi`, `Gi`, ... (powers of 1024).
    BinarySI,
    /// `n`, `u`, `m`, `k`, `M`, `G`, ... or no suffix (powers of 1000).
    DecimalSI,
    /// `1e3`, `5E-3`.
    DecimalExponent,
}

/// A quantity: its value in nano-units (rounded up, as the real type rounds values finer than
/// `1n`) and its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quantity {
    /// The value × 10⁹.
    pub nanos: i128,
    /// How it is written.
    pub format: Format,
}

const NANO: i128 = 1_000_000_000;

impl Quantity {
    /// Zero, printed `0`.
    pub const ZERO: Quantity = Quantity {
        nanos: 0,
        format: Format::DecimalSI,
    };

    /// Reads a quantity as the API server does; `None` for text that is not one.
    pub fn parse(text: &str) -> Option<Quantity> {
        let text = text.trim();
        let (negative, body) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text.strip_prefix('+').unwrap_or(text)),
        };
        let number_len = body
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(body.len());
        let (number, suffix) = body.split_at(number_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return None;
        }
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits: String = format!("{whole}{fraction}");
        let mantissa: i128 = digits.parse().ok()?;
        // value = mantissa × 10^(-fraction digits) × suffix factor
        let (format, base, power): (Format, i128, i32) = match suffix {
            "Ki" => (Format::BinarySI, 1024, 1),
            "Mi" => (Format::BinarySI, 1024, 2),
            "Gi" => (Format::BinarySI, 1024, 3),
            "Ti" => (Format::BinarySI, 1024, 4),
            "Pi" => (Format::BinarySI, 1024, 5),
            "Ei" => (Format::BinarySI, 1024, 6),
            "n" => (Format::DecimalSI, 10, -9),
            "u" => (Format::DecimalSI, 10, -6),
            "m" => (Format::DecimalSI, 10, -3),
            "" => (Format::DecimalSI, 10, 0),
            "k" => (Format::DecimalSI, 10, 3),
            "M" => (Format::DecimalSI, 10, 6),
            "G" => (Format::DecimalSI, 10, 9),
            "T" => (Format::DecimalSI, 10, 12),
            "P" => (Format::DecimalSI, 10, 15),
            "E" => (Format::DecimalSI, 10, 18),
            other => {
                let exp = other.strip_prefix(['e', 'E'])?;
                (Format::DecimalExponent, 10, exp.parse().ok()?)
            }
        };
        let frac = i32::try_from(fraction.len()).ok()?;
        // nanos = mantissa × base^power × 10^(9 − frac), rounded up.
        let mut numerator = mantissa;
        let mut denominator: i128 = 1;
        let scale = |value: i128, by: i128, times: i32| -> Option<i128> {
            (0..times).try_fold(value, |v, _| v.checked_mul(by))
        };
        if power >= 0 {
            numerator = scale(numerator, base, power)?;
        } else {
            denominator = scale(denominator, base, -power)?;
        }
        let shift = 9 - frac;
        if shift >= 0 {
            numerator = scale(numerator, 10, shift)?;
        } else {
            denominator = scale(denominator, 10, -shift)?;
        }
        let mut nanos = numerator / denominator;
        if numerator % denominator != 0 {
            nanos += 1;
        }
        Some(Quantity {
            nanos: if negative { -nanos } else { nanos },
            format,
        })
    }

    /// The sum, in this quantity's format (as `Quantity.Add`).
    pub fn add(&self, other: &Quantity) -> Quantity {
        Quantity {
            nanos: self.nanos.saturating_add(other.nanos),
            format: self.format,
        }
    }

    /// A count (`pods: 3`) as a quantity.
    pub fn count(n: i64) -> Quantity {
        Quantity {
            nanos: i128::from(n) * NANO,
            format: Format::DecimalSI,
        }
    }
}

const DECIMAL_SUFFIXES: [(i32, &str); 10] = [
    (-9, "n"),
    (-6, "u"),
    (-3, "m"),
    (0, ""),
    (3, "k"),
    (6, "M"),
    (9, "G"),
    (12, "T"),
    (15, "P"),
    (18, "E"),
];

impl fmt::Display for Quantity {
    /// The canonical form (`Quantity.String()`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.nanos == 0 {
            return f.write_str("0");
        }
        let sign = if self.nanos < 0 { "-" } else { "" };
        let magnitude = self.nanos.unsigned_abs();
        let mut format = self.format;
        if format == Format::BinarySI
            && (magnitude < 1024 * NANO as u128 || !magnitude.is_multiple_of(NANO as u128))
        {
            // Small or fractional binary quantities print in decimal (no rounding).
            format = Format::DecimalSI;
        }
        if format == Format::BinarySI {
            let mut units = magnitude / NANO as u128;
            let mut exponent = 0;
            while exponent < 6 && units.is_multiple_of(1024) {
                units /= 1024;
                exponent += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][exponent];
            return write!(f, "{sign}{units}{suffix}");
        }
        // Decimal: strip trailing zeros, then bring the exponent down to a multiple of 3.
        let mut mantissa = magnitude;
        let mut exponent: i32 = -9;
        while mantissa.is_multiple_of(10) {
            mantissa /= 10;
            exponent += 1;
        }
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        if format == Format::DecimalExponent {
            return if exponent == 0 {
                write!(f, "{sign}{mantissa}")
            } else {
                write!(f, "{sign}{mantissa}e{exponent}")
            };
        }
        match DECIMAL_SUFFIXES.iter().find(|(e, _)| *e == exponent) {
            Some((_, suffix)) => write!(f, "{sign}{mantissa}{suffix}"),
            None => {
                // Beyond exa: keep the largest suffix.
                let (top, suffix) = DECIMAL_SUFFIXES[DECIMAL_SUFFIXES.len() - 1];
                let scaled = mantissa * 10u128.pow((exponent - top).unsigned_abs());
                write!(f, "{sign}{scaled}{suffix}")
            }
        }
    }
}

/// The canonical form of a quantity written as `text`; `None` if it is not a quantity.
pub fn canonical(text: &str) -> Option<String> {
    Quantity::parse(text).map(|q| q.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_match_apimachinery() {
        for (input, want) in [
            ("0", "0"),
            ("0m", "0"),
            ("100m", "100m"),
            ("1000m", "1"),
            ("1500m", "1500m"),
            ("0.5", "500m"),
            ("1.5", "1500m"),
            ("2000", "2k"),
            ("1500", "1500"),
            ("1", "1"),
            ("10", "10"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1536Mi", "1536Mi"),
            ("512", "512"),
            ("0.5Gi", "512Mi"),
            ("100Ki", "100Ki"),
            ("1e3", "1e3"),
            ("1E6", "1e6"),
            ("12e2", "1200"),
            ("5M", "5M"),
            ("1n", "1n"),
            ("0.1n", "1n"),
            ("-100m", "-100m"),
            ("128974848", "128974848"),
            ("129e6", "129e6"),
            ("2.5Gi", "2560Mi"),
        ] {
            assert_eq!(canonical(input).as_deref(), Some(want), "{input}");
        }
        for bad in ["", "abc", "1.2.3", "1Xi", "."] {
            assert_eq!(canonical(bad), None, "{bad}");
        }
    }

    #[test]
    fn sums_keep_the_first_format() {
        let q = |s: &str| Quantity::parse(s).expect("quantity");
        assert_eq!(q("100m").add(&q("400m")).to_string(), "500m");
        assert_eq!(q("500m").add(&q("500m")).to_string(), "1");
        assert_eq!(q("64Mi").add(&q("1Gi")).to_string(), "1088Mi");
        assert_eq!(Quantity::ZERO.add(&q("1Gi")).to_string(), "1073741824");
        assert_eq!(Quantity::count(3).to_string(), "3");
    }
}
