//! What a wrk2 Lua script sends, recognised from its text (we do not run Lua).
//!
//! The scripts AIOpsLab mounts are recognised by the endpoints they write and the shares they
//! assign, so an edited copy keeps working:
//! - Hotel Reservation `mixed-workload_type_1.lua`: `/hotels`, `/recommendations`, `/user`,
//!   `/reservation` with shares from variables named like `search_ratio` / `SEARCH_SHARE`
//!   (default 60 / 39 / 0.5 / 0.5 %);
//! - Social Network `compose-post.lua` (and DeathStarBench's `read-home-timeline.lua`,
//!   `read-user-timeline.lua` and `mixed-workload.lua`, 60 / 30 / 10 %), with users below the
//!   `max_user_index` environment variable (default 962).
//!
//! Any other script, or none, makes wrk2's default request: `GET` of the URL's path.
//! Requests carry the absolute URI the scripts write (`http://localhost:5000/hotels?...`).

use super::args::Url;
use rand::Rng;
use std::collections::BTreeMap;

/// One HTTP request as wrk2 writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequest {
    /// `GET`, `POST`.
    pub method: String,
    /// The request-target: a path with query, or an absolute URI.
    pub target: String,
    /// Headers the script adds.
    pub headers: Vec<(String, String)>,
    /// The body, if any.
    pub body: Option<String>,
}

impl HttpRequest {
    fn new(method: &str, target: String) -> Self {
        HttpRequest {
            method: method.into(),
            target,
            headers: vec![],
            body: None,
        }
    }

    /// The path without query or scheme and host (`/hotels`).
    pub fn path(&self) -> &str {
        let t = match self.target.find("://") {
            Some(i) => {
                let rest = &self.target[i + 3..];
                rest.find('/').map(|j| &rest[j..]).unwrap_or("/")
            }
            None => self.target.as_str(),
        };
        t.split('?').next().unwrap_or(t)
    }
}

/// What one script sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Mix {
    /// Hotel Reservation's mixed workload; shares of search, recommend and user (the rest
    /// reserves).
    Hotel {
        /// Prefix of every target (`http://localhost:5000`), empty for plain paths.
        base: String,
        /// Share of `GET /hotels`.
        search: f64,
        /// Share of `GET /recommendations`.
        recommend: f64,
        /// Share of `POST /user`.
        user: f64,
    },
    /// Social Network: shares of read-home-timeline and read-user-timeline (the rest composes
    /// posts).
    Social {
        /// Prefix of every target (`http://localhost:8080`).
        base: String,
        /// Share of `GET /wrk2-api/home-timeline/read`.
        home: f64,
        /// Share of `GET /wrk2-api/user-timeline/read`.
        user_timeline: f64,
        /// Users are `0..max_user_index`.
        max_user_index: u64,
    },
    /// wrk2's default: the same `GET` every time.
    Static {
        /// The request.
        request: HttpRequest,
    },
}

/// A number assigned to a variable whose name contains all of `words` (case-insensitive):
/// `local search_ratio = 0.6`, `local SEARCH_SHARE = 0.6`.
fn assigned(text: &str, words: &[&str]) -> Option<f64> {
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with("--") {
            continue;
        }
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        if rhs.starts_with('=') {
            continue;
        }
        let name = lhs
            .trim()
            .trim_start_matches("local ")
            .trim()
            .to_ascii_lowercase();
        if !words.iter().all(|w| name.contains(w))
            || !(name.contains("ratio") || name.contains("share"))
        {
            continue;
        }
        let value = rhs.trim().trim_end_matches(';').trim();
        if let Ok(v) = value.parse::<f64>()
            && (0.0..=1.0).contains(&v)
        {
            return Some(v);
        }
    }
    None
}

/// The `http://host:port` of the first absolute URL literal in the script.
fn base_of(text: &str) -> String {
    for quote in ['"', '\''] {
        let open = format!("{quote}http://");
        if let Some(i) = text.find(&open) {
            let rest = &text[i + 1..];
            let end = rest.find(quote).unwrap_or(rest.len());
            let literal = &rest[..end];
            let after_scheme = &literal["http://".len()..];
            let host_end = after_scheme.find('/').unwrap_or(after_scheme.len());
            return format!("http://{}", &after_scheme[..host_end]);
        }
    }
    String::new()
}

impl Mix {
    /// Recognises `script` (its text, if the file could be read). `env` is the container's
    /// environment; `url` the command-line URL (for the default request).
    pub fn recognise(script: Option<&str>, env: &BTreeMap<String, String>, url: &Url) -> Mix {
        let fallback = || Mix::Static {
            request: HttpRequest::new("GET", url.path.clone()),
        };
        let Some(text) = script else {
            return fallback();
        };
        let has = |s: &str| text.contains(s);
        if has("/hotels?") && has("/recommendations?") {
            let search = assigned(text, &["search"]).unwrap_or(0.6);
            let recommend = assigned(text, &["recommend"]).unwrap_or(0.39);
            let user = assigned(text, &["user"]).unwrap_or(0.005);
            return Mix::Hotel {
                base: base_of(text),
                search,
                recommend,
                user,
            };
        }
        let compose = has("/wrk2-api/post/compose");
        let home = has("/wrk2-api/home-timeline/read");
        let user_tl = has("/wrk2-api/user-timeline/read");
        if compose || home || user_tl {
            let max_user_index = env
                .get("max_user_index")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v > 0)
                .unwrap_or(962);
            let (home_share, user_share) = match (compose, home, user_tl) {
                (true, true, true) => (
                    assigned(text, &["home"]).unwrap_or(0.6),
                    assigned(text, &["user", "timeline"]).unwrap_or(0.3),
                ),
                (false, true, false) => (1.0, 0.0),
                (false, false, true) => (0.0, 1.0),
                _ => (0.0, 0.0),
            };
            return Mix::Social {
                base: base_of(text),
                home: home_share,
                user_timeline: user_share,
                max_user_index,
            };
        }
        fallback()
    }

    /// One line for the behaviour's diagnostics (`hotel-reservation mixed workload`).
    pub fn describe(&self) -> &'static str {
        match self {
            Mix::Hotel { .. } => "hotel-reservation mixed workload",
            Mix::Social {
                home,
                user_timeline,
                ..
            } if *home == 0.0 && *user_timeline == 0.0 => "social-network compose-post",
            Mix::Social { .. } => "social-network timeline workload",
            Mix::Static { .. } => "wrk2 default request",
        }
    }

    /// The next request, drawn with `rng` as the script would.
    pub fn next(&self, rng: &mut impl Rng) -> HttpRequest {
        match self {
            Mix::Hotel {
                base,
                search,
                recommend,
                user,
            } => {
                let coin: f64 = rng.random();
                if coin < *search {
                    hotel_search(base, rng)
                } else if coin < search + recommend {
                    hotel_recommend(base, rng)
                } else if coin < search + recommend + user {
                    hotel_login(base, rng)
                } else {
                    hotel_reserve(base, rng)
                }
            }
            Mix::Social {
                base,
                home,
                user_timeline,
                max_user_index,
            } => {
                let coin: f64 = rng.random();
                if coin < *home {
                    timeline(base, "home-timeline", *max_user_index, rng)
                } else if coin < home + user_timeline {
                    timeline(base, "user-timeline", *max_user_index, rng)
                } else {
                    compose_post(base, *max_user_index, rng)
                }
            }
            Mix::Static { request } => request.clone(),
        }
    }
}

/// Lua's `tostring` of a number (`%.14g`).
pub fn lua_number(x: f64) -> String {
    if x == x.trunc() && x.abs() < 1e15 {
        return format!("{}", x as i64);
    }
    let exp = x.abs().log10().floor() as i32;
    if !(-5..14).contains(&exp) {
        let s = format!("{x:.13e}");
        let (mantissa, e) = s.split_once('e').unwrap_or((&s, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        let e: i32 = e.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if e < 0 { '-' } else { '+' }, e.abs());
    }
    let decimals = (13 - exp).max(0) as usize;
    let s = format!("{x:.decimals$}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn point(rng: &mut impl Rng) -> (String, String) {
    let lat = 38.0235 + (rng.random_range(0..=481) as f64 - 240.5) / 1000.0;
    let lon = -122.095 + (rng.random_range(0..=325) as f64 - 157.0) / 1000.0;
    (lua_number(lat), lua_number(lon))
}

fn cornell(rng: &mut impl Rng) -> (String, String) {
    let id = rng.random_range(0..=500);
    (format!("Cornell_{id}"), id.to_string().repeat(10))
}

fn hotel_search(base: &str, rng: &mut impl Rng) -> HttpRequest {
    let in_day = rng.random_range(9..=23);
    let out_day = rng.random_range(in_day + 1..=24);
    let (lat, lon) = point(rng);
    HttpRequest::new(
        "GET",
        format!(
            "{base}/hotels?inDate=2015-04-{in_day:02}&outDate=2015-04-{out_day:02}&lat={lat}&lon={lon}"
        ),
    )
}

fn hotel_recommend(base: &str, rng: &mut impl Rng) -> HttpRequest {
    let coin: f64 = rng.random();
    let by = if coin < 0.33 {
        "dis"
    } else if coin < 0.66 {
        "rate"
    } else {
        "price"
    };
    let (lat, lon) = point(rng);
    HttpRequest::new(
        "GET",
        format!("{base}/recommendations?require={by}&lat={lat}&lon={lon}"),
    )
}

fn hotel_login(base: &str, rng: &mut impl Rng) -> HttpRequest {
    let (user, password) = cornell(rng);
    HttpRequest::new(
        "POST",
        format!("{base}/user?username={user}&password={password}"),
    )
}

fn hotel_reserve(base: &str, rng: &mut impl Rng) -> HttpRequest {
    let in_day = rng.random_range(9..=23);
    let out_day = in_day + rng.random_range(1..=5);
    let hotel = rng.random_range(1..=80);
    let (user, password) = cornell(rng);
    HttpRequest::new(
        "POST",
        format!(
            "{base}/reservation?inDate=2015-04-{in_day:02}&outDate=2015-04-{out_day:02}&lat=nil&lon=nil&hotelId={hotel}&customerName={user}&username={user}&password={password}&number=1"
        ),
    )
}

const ALNUM: &[u8] = b"qwertyuiopasdfghjklzxcvbnmQWERTYUIOPASDFGHJKLZXCVBNM1234567890";
const DIGITS: &[u8] = b"1234567890";

fn random_from(alphabet: &[u8], len: usize, rng: &mut impl Rng) -> String {
    (0..len)
        .map(|_| alphabet[rng.random_range(0..alphabet.len())] as char)
        .collect()
}

fn compose_post(base: &str, max_user: u64, rng: &mut impl Rng) -> HttpRequest {
    let user = rng.random_range(0..max_user);
    let mentions = rng.random_range(0..=5) + 1;
    let links = rng.random_range(0..=5) + 1;
    let media = rng.random_range(0..=4) + 1;
    let mut text = random_from(ALNUM, 256, rng);
    for _ in 0..mentions {
        let other = if max_user > 1 {
            loop {
                let o = rng.random_range(0..max_user);
                if o != user {
                    break o;
                }
            }
        } else {
            user
        };
        text.push_str(&format!(" @username_{other}"));
    }
    for _ in 0..links {
        text.push_str(&format!(" http://{}", random_from(ALNUM, 64, rng)));
    }
    let ids: Vec<String> = (0..media)
        .map(|_| format!("\"{}\"", random_from(DIGITS, 18, rng)))
        .collect();
    let types: Vec<&str> = (0..media).map(|_| "\"png\"").collect();
    let body = format!(
        "username=username_{user}&user_id={user}&text={text}&media_ids=[{}]&media_types=[{}]&post_type=0",
        ids.join(","),
        types.join(",")
    );
    HttpRequest {
        method: "POST".into(),
        target: format!("{base}/wrk2-api/post/compose"),
        headers: vec![(
            "Content-Type".into(),
            "application/x-www-form-urlencoded".into(),
        )],
        body: Some(body),
    }
}

fn timeline(base: &str, which: &str, max_user: u64, rng: &mut impl Rng) -> HttpRequest {
    let user = rng.random_range(0..max_user);
    let start = rng.random_range(0..=100);
    HttpRequest::new(
        "GET",
        format!(
            "{base}/wrk2-api/{which}/read?user_id={user}&start={start}&stop={}",
            start + 10
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    fn hotel() -> &'static str {
        aiopslab_metadata::app("hotel-reservation")
            .unwrap()
            .workload
            .text
    }

    fn social() -> &'static str {
        aiopslab_metadata::app("social-network")
            .unwrap()
            .workload
            .text
    }

    #[test]
    fn recognises_aiopslabs_scripts() {
        let env = BTreeMap::new();
        let m = Mix::recognise(Some(hotel()), &env, &url("http://10.96.0.1:5000"));
        assert_eq!(
            m,
            Mix::Hotel {
                base: "http://localhost:5000".into(),
                search: 0.6,
                recommend: 0.39,
                user: 0.005
            }
        );
        let m = Mix::recognise(Some(social()), &env, &url("http://10.96.0.2:8080"));
        assert_eq!(m.describe(), "social-network compose-post");
        let env = BTreeMap::from([("max_user_index".to_string(), "10".to_string())]);
        let Mix::Social {
            base,
            max_user_index,
            ..
        } = Mix::recognise(Some(social()), &env, &url("http://x:8080"))
        else {
            panic!("not social")
        };
        assert_eq!(
            (base.as_str(), max_user_index),
            ("http://localhost:8080", 10)
        );
    }

    #[test]
    fn upstream_style_ratios_and_unknown_scripts() {
        let upstream = "local url = \"http://localhost:5000\"\nrequest = function()\n  local search_ratio      = 0.5\n  local recommend_ratio   = 0.3\n  local user_ratio        = 0.1\n  local reserve_ratio     = 0.1\n  -- /hotels? /recommendations?\nend\n";
        let m = Mix::recognise(Some(upstream), &BTreeMap::new(), &url("http://h:5000"));
        assert_eq!(
            m,
            Mix::Hotel {
                base: "http://localhost:5000".into(),
                search: 0.5,
                recommend: 0.3,
                user: 0.1
            }
        );
        let m = Mix::recognise(
            Some("print('hi')"),
            &BTreeMap::new(),
            &url("http://h:1/index.html"),
        );
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        assert_eq!(
            m.next(&mut rng),
            HttpRequest::new("GET", "/index.html".into())
        );
        let none = Mix::recognise(None, &BTreeMap::new(), &url("http://h:1"));
        assert_eq!(none.next(&mut rng).target, "/");
    }

    #[test]
    fn hotel_mix_shares_and_shapes() {
        let m = Mix::recognise(Some(hotel()), &BTreeMap::new(), &url("http://h:5000"));
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut counts = BTreeMap::<String, usize>::new();
        for _ in 0..20_000 {
            let r = m.next(&mut rng);
            assert!(
                r.target.starts_with("http://localhost:5000/"),
                "{}",
                r.target
            );
            *counts
                .entry(format!("{} {}", r.method, r.path()))
                .or_default() += 1;
            if r.path() == "/hotels" {
                let q = r.target.split_once('?').unwrap().1;
                let parts: Vec<&str> = q.split('&').collect();
                assert!(parts[0].starts_with("inDate=2015-04-"), "{q}");
                let lat: f64 = parts[2].strip_prefix("lat=").unwrap().parse().unwrap();
                assert!((37.78..=38.27).contains(&lat), "{lat}");
            }
            if r.path() == "/reservation" {
                assert!(
                    r.target.contains("&lat=nil&lon=nil&hotelId="),
                    "{}",
                    r.target
                );
            }
        }
        let share = |k: &str| *counts.get(k).unwrap_or(&0) as f64 / 20_000.0;
        assert!((share("GET /hotels") - 0.60).abs() < 0.02);
        assert!((share("GET /recommendations") - 0.39).abs() < 0.02);
        assert!(share("POST /user") > 0.001 && share("POST /user") < 0.01);
        assert!(share("POST /reservation") > 0.001 && share("POST /reservation") < 0.01);
    }

    #[test]
    fn compose_post_body() {
        let m = Mix::recognise(Some(social()), &BTreeMap::new(), &url("http://h:8080"));
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let r = m.next(&mut rng);
        assert_eq!(r.method, "POST");
        assert_eq!(r.target, "http://localhost:8080/wrk2-api/post/compose");
        assert_eq!(
            r.headers,
            [(
                "Content-Type".to_string(),
                "application/x-www-form-urlencoded".to_string()
            )]
        );
        let body = r.body.unwrap();
        assert!(body.starts_with("username=username_"), "{body}");
        assert!(body.contains("&media_types=[\"png\"") && body.ends_with("&post_type=0"));
        assert!(body.contains(" @username_") && body.contains(" http://"));
    }

    #[test]
    fn lua_numbers() {
        assert_eq!(lua_number(37.783), "37.783");
        assert_eq!(lua_number(38.0235 + 0.5 / 1000.0), "38.024");
        assert_eq!(lua_number(-122.095 + (-157.0) / 1000.0), "-122.252");
        assert_eq!(lua_number(2.0), "2");
        assert_eq!(lua_number(1e-7), "1e-07");
    }
}
