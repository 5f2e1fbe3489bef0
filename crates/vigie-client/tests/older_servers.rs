//! Servers released before pushes answered `201 Created` answered `200 OK` with the
//! same body; the SDK must keep working with them. A real older server is not at hand
//! in a test, so a listener replays its two answers byte for byte.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use vigie_client::{Client, ClientConfig};
use vigie_proto::readings::Reading;

const TOKEN: &str = r#"{"access_token":"a.b.c","token_type":"bearer","expires_in":172800,"expiration_date":"2099-01-01T00:00:00.000Z","refresh_token":"r","refresh_token_expires_in":31557600,"refresh_token_expiration_date":"2099-01-01T00:00:00.000Z"}"#;
const STORED: &str = r#"{"received":1,"new":1,"unchanged":0,"replaced":0}"#;

/// Answers each request on its own connection: the token endpoint with a token, a push
/// with `push_status` and the usual counts. Returns the request lines it saw.
async fn serve(listener: TcpListener, push_status: &'static str) -> Vec<String> {
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        // Headers, then as much body as Content-Length says.
        let (head_end, length) = loop {
            let read = socket.read(&mut buffer).await.unwrap();
            assert!(read > 0, "the client closed early");
            request.extend_from_slice(&buffer[..read]);
            if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&request[..end]).to_lowercase();
                let length = head
                    .lines()
                    .find_map(|line| line.strip_prefix("content-length:"))
                    .map_or(0, |value| value.trim().parse::<usize>().unwrap());
                break (end + 4, length);
            }
        };
        while request.len() < head_end + length {
            let read = socket.read(&mut buffer).await.unwrap();
            request.extend_from_slice(&buffer[..read]);
        }
        let line = String::from_utf8_lossy(&request)
            .lines()
            .next()
            .unwrap()
            .to_owned();
        let (status, body) = if line.contains("oauth2") {
            ("200 OK", TOKEN)
        } else {
            (push_status, STORED)
        };
        let answer = format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        socket.write_all(answer.as_bytes()).await.unwrap();
        seen.push(line);
    }
    seen
}

async fn push_to(push_status: &'static str) -> vigie_client::Result<vigie_proto::IngestResponse> {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(serve(listener, push_status));
    let client = Client::new(ClientConfig::new(url, "org", "line", "app", "secret")).unwrap();
    let reading = Reading {
        sensor_id: "s".into(),
        value_name: "x".into(),
        date: "2020-01-01T08:03:51.000Z".into(),
        value: 1.0,
        precision: None,
        labels: Vec::new(),
    };
    let answer = client.push(&[reading]).await;
    let seen = server.await.unwrap();
    assert!(
        seen[1].starts_with("POST /v0/organisations/org/data/line"),
        "{seen:?}"
    );
    answer
}

#[tokio::test]
async fn a_push_answered_200_by_an_older_server_is_a_success() {
    let answer = push_to("200 OK").await.expect("200 is a success");
    assert_eq!(answer.new, 1);
}

#[tokio::test]
async fn a_push_answered_201_is_a_success() {
    let answer = push_to("201 Created").await.expect("201 is a success");
    assert_eq!(answer.received, 1);
}
