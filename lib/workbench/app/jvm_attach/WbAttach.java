import java.io.ByteArrayOutputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * wb's client of the HotSpot dynamic attach protocol, run by `wb jvm` with the container's own java
 * where the image has no jcmd. Needs only java.base of Java 16+ (UNIX-domain socket channels).
 *
 * <p>Usage: {@code java WbAttach SOCKET COMMAND}: connects to the JVM's attach socket (the caller
 * has made the JVM open it), asks for the diagnostic command COMMAND ("GC.heap_info", ...) through
 * the "jcmd" operation, and copies the JVM's reply to standard output unchanged: a line with the
 * result code (0 = done), then the command's output.
 */
public final class WbAttach {
  private static final String PROTOCOL_VERSION = "1";

  public static void main(String[] args) throws IOException {
    if (args.length != 2) {
      System.err.println("usage: WbAttach SOCKET COMMAND");
      System.exit(2);
    }
    try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(args[0]))) {
      ByteBuffer request = ByteBuffer.wrap(request(args[1]));
      while (request.hasRemaining()) channel.write(request);
      OutputStream out = new FileOutputStream(FileDescriptor.out);
      ByteBuffer reply = ByteBuffer.allocate(8192);
      while (channel.read(reply) >= 0) {
        out.write(reply.array(), 0, reply.position());
        reply.clear();
      }
      out.flush();
    }
  }

  /** The protocol version, the operation and its three arguments, each ended by a NUL. */
  static byte[] request(String command) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    for (String part : new String[] {PROTOCOL_VERSION, "jcmd", command, "", ""}) {
      bytes.writeBytes(part.getBytes(StandardCharsets.UTF_8));
      bytes.write(0);
    }
    return bytes.toByteArray();
  }
}
