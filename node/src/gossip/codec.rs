//! Request-response framing for gossip's protocols: one protobuf message
//! per stream, preceded by its length as a 4-byte big-endian integer, with
//! a size limit per direction checked before anything is allocated.

use futures::prelude::*;
use libp2p::StreamProtocol;
use std::io;
use std::marker::PhantomData;

/// A codec for requests `Req` and responses `Resp`, refusing a request
/// larger than `max_request` bytes and a response larger than
/// `max_response` bytes.
pub struct ProtoCodec<Req, Resp> {
    max_request: usize,
    max_response: usize,
    _m: PhantomData<fn() -> (Req, Resp)>,
}

impl<Req, Resp> Clone for ProtoCodec<Req, Resp> {
    fn clone(&self) -> Self {
        ProtoCodec {
            max_request: self.max_request,
            max_response: self.max_response,
            _m: PhantomData,
        }
    }
}

impl<Req, Resp> ProtoCodec<Req, Resp> {
    /// A codec with these limits.
    pub fn new(max_request: usize, max_response: usize) -> Self {
        ProtoCodec {
            max_request,
            max_response,
            _m: PhantomData,
        }
    }
}

async fn read_msg<T, M>(io: &mut T, max: usize) -> io::Result<M>
where
    T: AsyncRead + Unpin + Send,
    M: prost::Message + Default,
{
    let mut len = [0u8; 4];
    io.read_exact(&mut len).await?;
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("message of {len} bytes is over the limit of {max}"),
        ));
    }
    let mut buf = vec![0u8; len];
    io.read_exact(&mut buf).await?;
    M::decode(buf.as_slice()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

async fn write_msg<T, M>(io: &mut T, msg: M, max: usize) -> io::Result<()>
where
    T: AsyncWrite + Unpin + Send,
    M: prost::Message,
{
    let bytes = msg.encode_to_vec();
    if bytes.len() > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "message of {} bytes is over the limit of {max}",
                bytes.len()
            ),
        ));
    }
    let len = u32::try_from(bytes.len())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "message too large"))?;
    io.write_all(&len.to_be_bytes()).await?;
    io.write_all(&bytes).await?;
    io.close().await
}

impl<Req, Resp> libp2p::request_response::Codec for ProtoCodec<Req, Resp>
where
    Req: prost::Message + Default + Send + 'static,
    Resp: prost::Message + Default + Send + 'static,
{
    type Protocol = StreamProtocol;
    type Request = Req;
    type Response = Resp;

    fn read_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> impl Future<Output = io::Result<Req>> + Send
    where
        T: AsyncRead + Unpin + Send,
    {
        read_msg(io, self.max_request)
    }

    fn read_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
    ) -> impl Future<Output = io::Result<Resp>> + Send
    where
        T: AsyncRead + Unpin + Send,
    {
        read_msg(io, self.max_response)
    }

    fn write_request<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        req: Req,
    ) -> impl Future<Output = io::Result<()>> + Send
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_msg(io, req, self.max_request)
    }

    fn write_response<T>(
        &mut self,
        _: &StreamProtocol,
        io: &mut T,
        res: Resp,
    ) -> impl Future<Output = io::Result<()>> + Send
    where
        T: AsyncWrite + Unpin + Send,
    {
        write_msg(io, res, self.max_response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use consort_proto::{BlockRangeRequest, BlockRangeResponse};
    use libp2p::request_response::Codec;

    #[tokio::test]
    async fn round_trips_and_refuses_oversized_messages_before_reading_them() {
        let p = StreamProtocol::new("/t/1");
        let mut c = ProtoCodec::<BlockRangeRequest, BlockRangeResponse>::new(16, 64);
        let mut buf = Vec::new();
        let req = BlockRangeRequest { start: 7, count: 3 };
        c.write_request(&p, &mut futures::io::Cursor::new(&mut buf), req)
            .await
            .unwrap();
        let back = c
            .read_request(&p, &mut futures::io::Cursor::new(buf))
            .await
            .unwrap();
        assert_eq!(back, req);
        // A length prefix over the limit: refused without reading the body.
        let mut huge = (1u32 << 30).to_be_bytes().to_vec();
        huge.extend_from_slice(&[0; 8]);
        let err = c
            .read_response(&p, &mut futures::io::Cursor::new(huge))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("over the limit"), "{err}");
        let big = BlockRangeResponse {
            blocks: vec![vec![0; 100]],
            height: 1,
        };
        let mut out = Vec::new();
        assert!(c
            .write_response(&p, &mut futures::io::Cursor::new(&mut out), big)
            .await
            .is_err());
    }
}
