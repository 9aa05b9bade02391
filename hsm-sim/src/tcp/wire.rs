//! Length-prefixed frames on a byte stream: `u32` big-endian body length, then the body.

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use zeroize::Zeroizing;

use super::error::ProtocolError;
use super::MAX_FRAME_BYTES;

/// Bytes of the length prefix.
pub(crate) const LENGTH_LEN: usize = 4;

/// Writes one frame. Prefix and body go out in one write so a frame is one segment where
/// possible (fewer wake-ups on the other side).
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    body: &[u8],
) -> Result<(), ProtocolError> {
    if body.len() > MAX_FRAME_BYTES {
        return Err(ProtocolError::TooLarge(body.len()));
    }
    let len = u32::try_from(body.len()).map_err(|_| ProtocolError::TooLarge(body.len()))?;
    // The body may hold a PAN in clear (JSON payload), hence zeroizing.
    let mut buf = Zeroizing::new(Vec::with_capacity(LENGTH_LEN + body.len()));
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(body);
    writer.write_all(&buf).await?;
    writer.flush().await?;
    Ok(())
}

/// Reads one frame body. The length is checked before anything is allocated; end of stream
/// before a frame starts is [`ProtocolError::Closed`].
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
    let mut prefix = [0u8; LENGTH_LEN];
    if let Err(e) = reader.read_exact(&mut prefix).await {
        return Err(match e.kind() {
            std::io::ErrorKind::UnexpectedEof => ProtocolError::Closed,
            _ => ProtocolError::Io(e),
        });
    }
    let len = usize::try_from(u32::from_be_bytes(prefix)).unwrap_or(usize::MAX);
    if len > MAX_FRAME_BYTES {
        return Err(ProtocolError::TooLarge(len));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    reader.read_exact(&mut body).await?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_oversize_is_refused_unread() {
        let (mut a, mut b) = tokio::io::duplex(1024);
        write_frame(&mut a, b"hello").await.unwrap();
        assert_eq!(read_frame(&mut b).await.unwrap().as_slice(), b"hello");

        let too_big = u32::try_from(MAX_FRAME_BYTES + 1).unwrap();
        a.write_all(&too_big.to_be_bytes()).await.unwrap();
        let refused = read_frame(&mut b).await;
        assert!(matches!(refused, Err(ProtocolError::TooLarge(n)) if n == MAX_FRAME_BYTES + 1));
        let body = vec![0u8; MAX_FRAME_BYTES + 1];
        assert!(matches!(write_frame(&mut a, &body).await, Err(ProtocolError::TooLarge(_))));
    }

    #[tokio::test]
    async fn end_of_stream_between_frames_is_closed() {
        let (a, mut b) = tokio::io::duplex(64);
        drop(a);
        assert!(matches!(read_frame(&mut b).await, Err(ProtocolError::Closed)));
    }
}
