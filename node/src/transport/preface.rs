//! The HTTP/2 client preface: reading and checking it before gRPC sees the
//! connection, and the stream that gives it back to gRPC.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tonic::transport::server::Connected;

/// What every HTTP/2 client sends first (RFC 9113, section 3.4).
pub(crate) const PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// How far the bytes received so far go towards the preface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PrefaceCheck {
    /// All of it.
    Complete,
    /// A proper start of it; more is needed.
    Partial,
    /// Something else.
    Invalid,
}

/// Checks the first bytes a client sent (at most the preface's length).
pub(crate) fn check_preface(received: &[u8]) -> PrefaceCheck {
    if !PREFACE.starts_with(received) {
        PrefaceCheck::Invalid
    } else if received.len() == PREFACE.len() {
        PrefaceCheck::Complete
    } else {
        PrefaceCheck::Partial
    }
}

/// Why a connection did not deliver the preface.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PrefaceError {
    /// The client sent bytes that are not the preface.
    #[error("not an HTTP/2 client preface")]
    Invalid,
    /// The client closed the connection before sending all of it.
    #[error("closed after {received} bytes of the HTTP/2 client preface")]
    Closed {
        /// How many bytes of the preface arrived.
        received: usize,
    },
    /// Reading from the connection failed.
    #[error("reading the HTTP/2 client preface: {0}")]
    Io(#[from] io::Error),
}

/// Reads exactly the preface from `stream`, stopping at the first byte that
/// differs; nothing after the preface is consumed.
pub(crate) async fn read_preface<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(), PrefaceError> {
    let mut buf = [0u8; PREFACE.len()];
    let mut received = 0;
    loop {
        let n = stream.read(&mut buf[received..]).await?;
        if n == 0 {
            return Err(PrefaceError::Closed { received });
        }
        received += n;
        match check_preface(&buf[..received]) {
            PrefaceCheck::Complete => return Ok(()),
            PrefaceCheck::Partial => {}
            PrefaceCheck::Invalid => return Err(PrefaceError::Invalid),
        }
    }
}

/// A connection whose preface was read by [`read_preface`]: reading gives
/// the preface again, then whatever the client sends next, so gRPC sees the
/// connection whole. It holds `guard` (the connection's place under the
/// cap) for as long as it lives, and tells gRPC what the inner stream tells
/// it about the peer (address, TLS certificates).
#[derive(Debug)]
pub(crate) struct Prefaced<S, G> {
    inner: S,
    replayed: usize,
    _guard: G,
}

impl<S, G> Prefaced<S, G> {
    /// Wraps `inner`, whose preface has been read and checked.
    pub(crate) fn new(inner: S, guard: G) -> Self {
        Prefaced {
            inner,
            replayed: 0,
            _guard: guard,
        }
    }
}

impl<S: AsyncRead + Unpin, G: Unpin> AsyncRead for Prefaced<S, G> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.replayed < PREFACE.len() {
            let rest = &PREFACE[this.replayed..];
            let n = rest.len().min(buf.remaining());
            buf.put_slice(&rest[..n]);
            this.replayed += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin, G: Unpin> AsyncWrite for Prefaced<S, G> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// For `tokio_rustls::server::TlsStream<TcpStream>` this is tonic's
/// `TlsConnectInfo<TcpConnectInfo>`, which `Request::peer_certs` reads.
impl<S: Connected, G> Connected for Prefaced<S, G> {
    type ConnectInfo = S::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[test]
    fn the_preface_is_recognised_byte_by_byte() {
        assert_eq!(check_preface(b""), PrefaceCheck::Partial);
        for n in 1..PREFACE.len() {
            assert_eq!(check_preface(&PREFACE[..n]), PrefaceCheck::Partial, "{n}");
        }
        assert_eq!(check_preface(PREFACE), PrefaceCheck::Complete);
        assert_eq!(check_preface(b"GET / HTTP/1.1\r\n"), PrefaceCheck::Invalid);
        assert_eq!(check_preface(b"PRI * HTTP/1.1"), PrefaceCheck::Invalid);
        assert_eq!(check_preface(b"\x16\x03\x01"), PrefaceCheck::Invalid);
        let mut almost = *PREFACE;
        almost[23] = b'X';
        assert_eq!(check_preface(&almost), PrefaceCheck::Invalid);
    }

    #[tokio::test]
    async fn a_preface_in_pieces_is_read_and_given_back_before_what_follows() {
        let (mut client, mut server) = tokio::io::duplex(64);
        let sender = tokio::spawn(async move {
            for piece in [&PREFACE[..3], &PREFACE[3..20], &PREFACE[20..]] {
                client.write_all(piece).await.unwrap();
                client.flush().await.unwrap();
                tokio::task::yield_now().await;
            }
            client.write_all(b"SETTINGS").await.unwrap();
            client
        });
        read_preface(&mut server).await.unwrap();
        let mut client = sender.await.unwrap();
        let mut stream = Prefaced::new(server, ());
        let mut got = vec![0u8; PREFACE.len() + 8];
        stream.read_exact(&mut got).await.unwrap();
        assert_eq!(&got[..PREFACE.len()], PREFACE);
        assert_eq!(&got[PREFACE.len()..], b"SETTINGS");
        // Writes pass through.
        stream.write_all(b"ack").await.unwrap();
        let mut ack = [0u8; 3];
        client.read_exact(&mut ack).await.unwrap();
        assert_eq!(&ack, b"ack");
    }

    #[tokio::test]
    async fn the_preface_is_given_back_through_small_reads() {
        let (_client, server) = tokio::io::duplex(64);
        let mut stream = Prefaced::new(server, ());
        let mut got = Vec::new();
        let mut byte = [0u8; 5];
        while got.len() < PREFACE.len() {
            let n = stream.read(&mut byte).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&byte[..n]);
        }
        assert_eq!(got, PREFACE);
    }

    #[tokio::test]
    async fn garbage_stops_the_read_at_once_and_a_short_preface_is_closed() {
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(b"GET / HTTP/1.1\r\n").await.unwrap();
        assert!(matches!(
            read_preface(&mut server).await,
            Err(PrefaceError::Invalid)
        ));
        let (mut client, mut server) = tokio::io::duplex(64);
        client.write_all(&PREFACE[..10]).await.unwrap();
        drop(client);
        assert!(matches!(
            read_preface(&mut server).await,
            Err(PrefaceError::Closed { received: 10 })
        ));
    }
}
