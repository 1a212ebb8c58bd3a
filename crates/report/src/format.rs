//! Numbers as people read them in reports, alerts and the newsletter.

/// 1234567.891 → "1,234,567.89".
pub fn money(x: f64) -> String {
    let s = format!("{:.2}", x.abs());
    let (int, frac) = s.split_once('.').unwrap_or((&s, "00"));
    let mut out = String::new();
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    let neg = x < 0.0 && s != "0.00";
    format!("{}{out}.{frac}", if neg { "-" } else { "" })
}

/// Prices: 2 decimals from 1 up, more below (crypto fractions).
pub fn price(x: f64) -> String {
    if x.abs() >= 1.0 {
        money(x)
    } else {
        let s = format!("{x:.6}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_groups_thousands_and_keeps_the_sign() {
        assert_eq!(money(1_234_567.891), "1,234,567.89");
        assert_eq!(money(-1234.5), "-1,234.50");
        assert_eq!(money(-0.001), "0.00");
        assert_eq!(price(0.000123), "0.000123");
        assert_eq!(price(12.5), "12.50");
        assert_eq!(money(999.999), "1,000.00");
        assert_eq!(price(0.5), "0.5");
    }
}
