//! Civil dates and times: parsing, range checks, the packed encodings and
//! BigQuery's text forms, written independently of `bqwrite::types`.

/// Days since 1970-01-01 of 0001-01-01.
pub(crate) const MIN_DATE_DAYS: i64 = -719_162;
/// Days since 1970-01-01 of 9999-12-31.
pub(crate) const MAX_DATE_DAYS: i64 = 2_932_896;
/// Microseconds since the Unix epoch of 0001-01-01T00:00:00Z.
pub(crate) const MIN_TIMESTAMP_MICROS: i64 = MIN_DATE_DAYS * MICROS_PER_DAY;
/// Microseconds since the Unix epoch of 9999-12-31T23:59:59.999999Z.
pub(crate) const MAX_TIMESTAMP_MICROS: i64 = (MAX_DATE_DAYS + 1) * MICROS_PER_DAY - 1;
const MICROS_PER_DAY: i64 = 86_400_000_000;

/// A civil date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ymd {
    pub year: i64,
    pub month: u32,
    pub day: u32,
}

/// A civil time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Hms {
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    pub micros: u32,
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(year) => 29,
        _ => 28,
    }
}

impl Ymd {
    /// Checks the calendar and BigQuery's year range 1..=9999.
    pub(crate) fn check(self) -> Result<Self, String> {
        if !(1..=9999).contains(&self.year) {
            return Err(format!("year {} is outside 1..=9999", self.year));
        }
        if !(1..=12).contains(&self.month) {
            return Err(format!("month {} is outside 1..=12", self.month));
        }
        let last = days_in_month(self.year, self.month);
        if self.day == 0 || self.day > last {
            return Err(format!(
                "day {} does not exist in {:04}-{:02}",
                self.day, self.year, self.month
            ));
        }
        Ok(self)
    }

    /// Days since 1970-01-01 (proleptic Gregorian).
    pub(crate) fn to_days(self) -> i64 {
        let y = if self.month <= 2 {
            self.year - 1
        } else {
            self.year
        };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let mp = if m > 2 { m - 3 } else { m + 9 };
        let doy = (153 * mp + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The civil date of a day count since 1970-01-01.
    pub(crate) fn from_days(days: i64) -> Self {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        Ymd { year, month, day }
    }
}

impl Hms {
    pub(crate) fn check(self) -> Result<Self, String> {
        if self.hour > 23 {
            return Err(format!("hour {} is outside 0..=23", self.hour));
        }
        if self.minute > 59 {
            return Err(format!("minute {} is outside 0..=59", self.minute));
        }
        if self.second > 59 {
            return Err(format!("second {} is outside 0..=59", self.second));
        }
        if self.micros > 999_999 {
            return Err(format!("microsecond {} is outside 0..=999999", self.micros));
        }
        Ok(self)
    }

    fn micros_of_day(self) -> i64 {
        ((i64::from(self.hour) * 60 + i64::from(self.minute)) * 60 + i64::from(self.second))
            * 1_000_000
            + i64::from(self.micros)
    }
}

/// Checks a DATE given as days since 1970-01-01.
pub(crate) fn check_date_days(days: i64) -> Result<i32, String> {
    if (MIN_DATE_DAYS..=MAX_DATE_DAYS).contains(&days) {
        Ok(days as i32)
    } else {
        Err(format!(
            "DATE value {days} (days since 1970-01-01) is outside {MIN_DATE_DAYS}..={MAX_DATE_DAYS} (0001-01-01..9999-12-31)"
        ))
    }
}

/// Checks a TIMESTAMP given as microseconds since the Unix epoch.
pub(crate) fn check_timestamp_micros(micros: i64) -> Result<i64, String> {
    if (MIN_TIMESTAMP_MICROS..=MAX_TIMESTAMP_MICROS).contains(&micros) {
        Ok(micros)
    } else {
        Err(format!(
            "TIMESTAMP value {micros} (microseconds since the Unix epoch) is outside 0001-01-01T00:00:00Z..9999-12-31T23:59:59.999999Z"
        ))
    }
}

const MICROS_BITS: u32 = 20;
const SECOND_SHIFT: u32 = MICROS_BITS;
const MINUTE_SHIFT: u32 = SECOND_SHIFT + 6;
const HOUR_SHIFT: u32 = MINUTE_SHIFT + 6;
const DAY_SHIFT: u32 = HOUR_SHIFT + 5;
const MONTH_SHIFT: u32 = DAY_SHIFT + 5;
const YEAR_SHIFT: u32 = MONTH_SHIFT + 4;

fn bits(value: i64, shift: u32, width: u32) -> u32 {
    ((value >> shift) & ((1 << width) - 1)) as u32
}

/// Unpacks and checks a packed civil TIME.
pub(crate) fn unpack_time(packed: i64) -> Result<Hms, String> {
    if packed < 0 || packed >> DAY_SHIFT != 0 {
        return Err(format!(
            "packed TIME value {packed} has bits set outside hour/minute/second/micros"
        ));
    }
    Hms {
        hour: bits(packed, HOUR_SHIFT, 5),
        minute: bits(packed, MINUTE_SHIFT, 6),
        second: bits(packed, SECOND_SHIFT, 6),
        micros: bits(packed, 0, MICROS_BITS),
    }
    .check()
    .map_err(|e| format!("packed TIME value {packed} is invalid: {e}"))
}

/// Unpacks and checks a packed civil DATETIME.
pub(crate) fn unpack_datetime(packed: i64) -> Result<(Ymd, Hms), String> {
    if packed < 0 || packed >> (YEAR_SHIFT + 14) != 0 {
        return Err(format!(
            "packed DATETIME value {packed} has bits set above the 14-bit year"
        ));
    }
    let ymd = Ymd {
        year: i64::from(bits(packed, YEAR_SHIFT, 14)),
        month: bits(packed, MONTH_SHIFT, 4),
        day: bits(packed, DAY_SHIFT, 5),
    };
    let hms = Hms {
        hour: bits(packed, HOUR_SHIFT, 5),
        minute: bits(packed, MINUTE_SHIFT, 6),
        second: bits(packed, SECOND_SHIFT, 6),
        micros: bits(packed, 0, MICROS_BITS),
    };
    match (ymd.check(), hms.check()) {
        (Ok(ymd), Ok(hms)) => Ok((ymd, hms)),
        (Err(e), _) | (_, Err(e)) => Err(format!("packed DATETIME value {packed} is invalid: {e}")),
    }
}

pub(crate) fn pack_time(t: Hms) -> i64 {
    (i64::from(t.hour) << HOUR_SHIFT)
        | (i64::from(t.minute) << MINUTE_SHIFT)
        | (i64::from(t.second) << SECOND_SHIFT)
        | i64::from(t.micros)
}

pub(crate) fn pack_datetime(d: Ymd, t: Hms) -> i64 {
    (d.year << YEAR_SHIFT)
        | (i64::from(d.month) << MONTH_SHIFT)
        | (i64::from(d.day) << DAY_SHIFT)
        | pack_time(t)
}

/// A cursor over ASCII text for the small parsers below.
struct Text<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Text<'a> {
    fn new(s: &'a str) -> Self {
        Text {
            s: s.as_bytes(),
            pos: 0,
        }
    }
    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn expect(&mut self, c: u8, what: &str) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(format!("expected `{}` {what}", c as char))
        }
    }
    /// Reads between `min` and `max` decimal digits.
    fn digits(&mut self, min: usize, max: usize, what: &str) -> Result<(u64, usize), String> {
        let start = self.pos;
        let mut value = 0u64;
        while self.pos - start < max {
            match self.peek() {
                Some(c @ b'0'..=b'9') => {
                    value = value * 10 + u64::from(c - b'0');
                    self.pos += 1;
                }
                _ => break,
            }
        }
        let n = self.pos - start;
        if n < min {
            return Err(format!("expected {what}"));
        }
        Ok((value, n))
    }
    fn done(&self) -> bool {
        self.pos == self.s.len()
    }
}

fn parse_ymd(t: &mut Text<'_>) -> Result<Ymd, String> {
    let (year, _) = t.digits(4, 4, "a 4-digit year")?;
    t.expect(b'-', "after the year")?;
    let (month, _) = t.digits(1, 2, "a month")?;
    t.expect(b'-', "after the month")?;
    let (day, _) = t.digits(1, 2, "a day")?;
    Ymd {
        year: year as i64,
        month: month as u32,
        day: day as u32,
    }
    .check()
}

fn parse_hms(t: &mut Text<'_>, seconds_optional: bool) -> Result<Hms, String> {
    let (hour, _) = t.digits(1, 2, "an hour")?;
    t.expect(b':', "after the hour")?;
    let (minute, _) = t.digits(1, 2, "a minute")?;
    let mut second = 0;
    let mut micros = 0;
    if t.eat(b':') {
        second = t.digits(1, 2, "seconds")?.0;
        if t.eat(b'.') {
            let (frac, n) = t.digits(1, 6, "fractional seconds")?;
            if matches!(t.peek(), Some(b'0'..=b'9')) {
                return Err("more than 6 fractional digits (BigQuery keeps microseconds)".into());
            }
            micros = frac * 10u64.pow(6 - n as u32);
        }
    } else if !seconds_optional {
        return Err("expected `:` and seconds".into());
    }
    Hms {
        hour: hour as u32,
        minute: minute as u32,
        second: second as u32,
        micros: micros as u32,
    }
    .check()
}

fn finish<T>(t: &Text<'_>, value: T, kind: &str, text: &str) -> Result<T, String> {
    if t.done() {
        Ok(value)
    } else {
        Err(format!("{kind} text {text:?} has trailing characters"))
    }
}

/// Parses "YYYY-[M]M-[D]D" into days since 1970-01-01.
pub(crate) fn parse_date(text: &str) -> Result<i32, String> {
    let mut t = Text::new(text);
    let ymd = parse_ymd(&mut t).map_err(|e| format!("DATE text {text:?} is invalid: {e}"))?;
    finish(&t, ymd.to_days() as i32, "DATE", text)
}

/// Parses "[H]H:[M]M:[S]S[.ffffff]" into a packed TIME.
pub(crate) fn parse_time(text: &str) -> Result<i64, String> {
    let mut t = Text::new(text);
    let hms =
        parse_hms(&mut t, false).map_err(|e| format!("TIME text {text:?} is invalid: {e}"))?;
    finish(&t, pack_time(hms), "TIME", text)
}

/// Parses "YYYY-MM-DD[ |T]HH:MM:SS[.ffffff]" into a packed DATETIME.
pub(crate) fn parse_datetime(text: &str) -> Result<i64, String> {
    let mut t = Text::new(text);
    let parsed = (|| {
        let ymd = parse_ymd(&mut t)?;
        if !(t.eat(b' ') || t.eat(b'T') || t.eat(b't')) {
            return Err("expected ` ` or `T` between date and time".to_string());
        }
        let hms = parse_hms(&mut t, false)?;
        Ok(pack_datetime(ymd, hms))
    })()
    .map_err(|e| format!("DATETIME text {text:?} is invalid: {e}"))?;
    finish(&t, parsed, "DATETIME", text)
}

/// Parses a timestamp text ("YYYY-MM-DD[ |T]HH:MM[:SS[.ffffff]]" with an
/// optional zone `Z`, `UTC`, `+HH[:MM]` or `-HH[:MM]`; no zone means UTC)
/// into microseconds since the Unix epoch.
pub(crate) fn parse_timestamp(text: &str) -> Result<i64, String> {
    let mut t = Text::new(text);
    let parsed = (|| {
        let ymd = parse_ymd(&mut t)?;
        if !(t.eat(b' ') || t.eat(b'T') || t.eat(b't')) {
            return Err("expected ` ` or `T` between date and time".to_string());
        }
        let hms = parse_hms(&mut t, true)?;
        let local = ymd.to_days() * MICROS_PER_DAY + hms.micros_of_day();
        t.eat(b' ');
        let offset_minutes: i64 = if t.eat(b'Z') || t.eat(b'z') {
            0
        } else if t.s[t.pos..].eq_ignore_ascii_case(b"UTC") {
            t.pos += 3;
            0
        } else if let Some(sign @ (b'+' | b'-')) = t.peek() {
            t.pos += 1;
            let (h, _) = t.digits(1, 2, "an offset hour")?;
            t.eat(b':');
            let m = if t.done() {
                0
            } else {
                t.digits(2, 2, "offset minutes")?.0
            };
            if h > 14 || m > 59 {
                return Err(format!("zone offset {h:02}:{m:02} is out of range"));
            }
            let total = (h * 60 + m) as i64;
            if sign == b'-' { -total } else { total }
        } else {
            0
        };
        Ok(local - offset_minutes * 60_000_000)
    })()
    .map_err(|e| format!("TIMESTAMP text {text:?} is invalid: {e}"))?;
    let micros = finish(&t, parsed, "TIMESTAMP", text)?;
    check_timestamp_micros(micros)
}

fn push_fraction(out: &mut String, micros: u32) {
    if micros != 0 {
        out.push_str(&format!(".{micros:06}"));
    }
}

/// "YYYY-MM-DD".
pub(crate) fn format_date(days: i32) -> String {
    let d = Ymd::from_days(i64::from(days));
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn format_hms(t: Hms) -> String {
    let mut out = format!("{:02}:{:02}:{:02}", t.hour, t.minute, t.second);
    push_fraction(&mut out, t.micros);
    out
}

/// "HH:MM:SS[.ffffff]" of a checked packed TIME.
pub(crate) fn format_time(packed: i64) -> String {
    match unpack_time(packed) {
        Ok(t) => format_hms(t),
        Err(e) => e,
    }
}

/// "YYYY-MM-DDTHH:MM:SS[.ffffff]" of a checked packed DATETIME.
pub(crate) fn format_datetime(packed: i64) -> String {
    match unpack_datetime(packed) {
        Ok((d, t)) => format!(
            "{:04}-{:02}-{:02}T{}",
            d.year,
            d.month,
            d.day,
            format_hms(t)
        ),
        Err(e) => e,
    }
}

/// RFC 3339 text "YYYY-MM-DDTHH:MM:SS[.ffffff]Z" of a timestamp.
pub(crate) fn format_timestamp_rfc3339(micros: i64) -> String {
    let days = micros.div_euclid(MICROS_PER_DAY);
    let rem = micros.rem_euclid(MICROS_PER_DAY);
    let d = Ymd::from_days(days);
    let secs = rem / 1_000_000;
    let t = Hms {
        hour: (secs / 3600) as u32,
        minute: (secs / 60 % 60) as u32,
        second: (secs % 60) as u32,
        micros: (rem % 1_000_000) as u32,
    };
    format!(
        "{:04}-{:02}-{:02}T{}Z",
        d.year,
        d.month,
        d.day,
        format_hms(t)
    )
}

/// A timestamp as BigQuery's REST API prints it: seconds since the epoch as
/// a floating-point text in Java's `Double.toString` layout ("1.7040672E9",
/// "0.5", "-1.0E8"), written from the exact microseconds (no rounding).
pub(crate) fn format_timestamp_seconds(micros: i64) -> String {
    if micros == 0 {
        return "0.0".into();
    }
    let negative = micros < 0;
    let abs = micros.unsigned_abs();
    // value = digits * 10^-6
    let all = format!("{}{:06}", abs / 1_000_000, abs % 1_000_000);
    let digits = all.trim_start_matches('0');
    let exponent = digits.len() as i64 - 1 - 6;
    let significant = digits.trim_end_matches('0');
    let mut out = String::new();
    if negative {
        out.push('-');
    }
    if (-3..7).contains(&exponent) {
        if exponent >= 0 {
            let int_len = exponent as usize + 1;
            let padded = format!("{significant:0<int_len$}");
            out.push_str(&padded[..int_len]);
            out.push('.');
            let frac = &padded[int_len..];
            out.push_str(if frac.is_empty() { "0" } else { frac });
        } else {
            out.push_str("0.");
            for _ in 0..(-exponent - 1) {
                out.push('0');
            }
            out.push_str(significant);
        }
    } else {
        out.push_str(&significant[..1]);
        out.push('.');
        out.push_str(if significant.len() > 1 {
            &significant[1..]
        } else {
            "0"
        });
        out.push_str(&format!("E{exponent}"));
    }
    out
}

/// Checks an INTERVAL text: BigQuery's canonical "Y-M D H:M:S[.F]" form (each
/// part optionally signed) or an ISO 8601 duration ("P1Y2M3DT4H5M6.5S").
pub(crate) fn check_interval(text: &str) -> Result<(), String> {
    let err = |why: &str| format!("INTERVAL text {text:?} is invalid: {why}");
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(err("it is empty"));
    }
    let (months, days, micros) = if trimmed.starts_with(['P', 'p']) || trimmed.starts_with("-P") {
        parse_iso_interval(trimmed).map_err(|e| err(&e))?
    } else {
        parse_canonical_interval(trimmed).map_err(|e| err(&e))?
    };
    if months.abs() > 10_000 * 12 {
        return Err(err("years/months are outside +-10000 years"));
    }
    if days.abs() > 3_660_000 {
        return Err(err("days are outside +-3660000"));
    }
    if micros.abs() > 87_840_000 * 3_600_000_000 {
        return Err(err("hours are outside +-87840000"));
    }
    Ok(())
}

fn signed_number(part: &str) -> Result<i128, String> {
    let (neg, digits) = match part.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, part.strip_prefix('+').unwrap_or(part)),
    };
    if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{part:?} is not an integer"));
    }
    let v: i128 = digits
        .parse()
        .map_err(|_| format!("{part:?} is not an integer"))?;
    Ok(if neg { -v } else { v })
}

fn parse_canonical_interval(text: &str) -> Result<(i128, i128, i128), String> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    if parts.len() != 3 {
        return Err("expected \"Y-M D H:M:S[.F]\"".into());
    }
    let ym = parts[0];
    let (ym_neg, ym_body) = match ym.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, ym),
    };
    let (y, m) = ym_body
        .split_once('-')
        .ok_or_else(|| "expected \"Y-M\" years and months".to_string())?;
    let mut months = signed_number(y)? * 12 + signed_number(m)?;
    if ym_neg {
        months = -months;
    }
    let days = signed_number(parts[1])?;
    let hms = parts[2];
    let (neg, body) = match hms.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, hms),
    };
    let fields: Vec<&str> = body.split(':').collect();
    if fields.len() != 3 {
        return Err("expected \"H:M:S[.F]\"".into());
    }
    let (sec, frac) = fields[2].split_once('.').unwrap_or((fields[2], ""));
    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err("fractional seconds must have at most 6 digits".into());
    }
    let frac_micros: i128 = if frac.is_empty() {
        0
    } else {
        format!("{frac:0<6}")
            .parse()
            .map_err(|_| "bad fraction".to_string())?
    };
    let mut micros = ((signed_number(fields[0])? * 60 + signed_number(fields[1])?) * 60
        + signed_number(sec)?)
        * 1_000_000
        + frac_micros;
    if neg {
        micros = -micros;
    }
    Ok((months, days, micros))
}

fn parse_iso_interval(text: &str) -> Result<(i128, i128, i128), String> {
    let (neg, body) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text),
    };
    let body = &body[1..];
    let (mut months, mut days, mut micros) = (0i128, 0i128, 0i128);
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in body.chars() {
        match c {
            'T' | 't' if number.is_empty() => in_time = true,
            '0'..='9' | '.' | '-' | '+' => number.push(c),
            unit => {
                let unit = unit.to_ascii_uppercase();
                any = true;
                if unit == 'S' && in_time {
                    let (whole, frac) = number.split_once('.').unwrap_or((&number, ""));
                    if frac.len() > 6 || !frac.bytes().all(|b| b.is_ascii_digit()) {
                        return Err("fractional seconds must have at most 6 digits".into());
                    }
                    let f: i128 = if frac.is_empty() {
                        0
                    } else {
                        format!("{frac:0<6}")
                            .parse()
                            .map_err(|_| "bad fraction".to_string())?
                    };
                    let w = signed_number(whole)?;
                    micros += w * 1_000_000
                        + if w < 0 || whole.starts_with('-') {
                            -f
                        } else {
                            f
                        };
                } else {
                    let n = signed_number(&number)?;
                    match (unit, in_time) {
                        ('Y', false) => months += n * 12,
                        ('M', false) => months += n,
                        ('W', false) => days += n * 7,
                        ('D', false) => days += n,
                        ('H', true) => micros += n * 3_600_000_000,
                        ('M', true) => micros += n * 60_000_000,
                        _ => return Err(format!("unexpected unit `{unit}`")),
                    }
                }
                number.clear();
            }
        }
    }
    if !number.is_empty() || !any {
        return Err("expected an ISO 8601 duration such as \"P1Y2M3DT4H5M6S\"".into());
    }
    if neg {
        Ok((-months, -days, -micros))
    } else {
        Ok((months, days, micros))
    }
}

#[cfg(test)]
mod tests;
