//! A real HTTP server on 127.0.0.1 for the webhook tests: it records every request and
//! answers as the test says (a status, or nothing for a while: a timeout).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// One request as received.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub content_type: String,
    pub body: String,
}

/// How to answer the n-th request (0-based).
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(u16),
    /// This status with an error page that quotes the request line (its URL path too), as
    /// careless servers do.
    Echo(u16),
    /// Say nothing for this long, then 200.
    Hang(Duration),
}

pub struct Server {
    pub base: String,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl Server {
    /// Requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// A URL on this server with a secret-looking path.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

/// Starts a server answering every request with `answer(n)`; it lives until the test ends.
pub fn serve(answer: impl Fn(usize) -> Answer + Send + Sync + 'static) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&requests);
    let answer = Arc::new(answer);
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let seen = Arc::clone(&seen);
            let answer = Arc::clone(&answer);
            // A connection of its own: a hanging answer does not hold up the next request.
            std::thread::spawn(move || handle(stream, n, &seen, &*answer));
        }
    });
    Server { base, requests }
}

fn handle(
    mut stream: std::net::TcpStream,
    n: usize,
    seen: &Mutex<Vec<Request>>,
    answer: &(dyn Fn(usize) -> Answer + Send + Sync),
) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_string();
    let path = parts.next().unwrap_or("").to_string();
    let (mut len, mut content_type) = (0usize, String::new());
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            match k.trim().to_ascii_lowercase().as_str() {
                "content-length" => len = v.trim().parse().unwrap_or(0),
                "content-type" => content_type = v.trim().to_string(),
                _ => {}
            }
        }
    }
    let mut body = vec![0; len];
    let _ = reader.read_exact(&mut body);
    let request_line = format!("{method} {path}");
    seen.lock().unwrap().push(Request {
        method,
        path,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let (status, echo) = match answer(n) {
        Answer::Status(s) => (s, false),
        Answer::Echo(s) => (s, true),
        Answer::Hang(d) => {
            std::thread::sleep(d);
            (200, false)
        }
    };
    let text = if echo {
        format!("internal error handling {request_line}")
    } else if status < 300 {
        "ok".to_string()
    } else {
        "invalid_payload".to_string()
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
        text.len()
    );
}
