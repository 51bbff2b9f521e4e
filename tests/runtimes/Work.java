// SPDX-License-Identifier: MIT
// A JVM workload for the server suite (java Work PORT K THREADS): THREADS threads open exactly K TCP connections to its own loopback listener on PORT, one byte echoed on each.
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

public class Work {
	public static void main(String[] args) throws Exception {
		final int port = Integer.parseInt(args[0]);
		final int k = Integer.parseInt(args[1]);
		final int nthreads = Integer.parseInt(args[2]);
		final InetAddress lo = InetAddress.getByName("127.0.0.1");
		final ServerSocket server = new ServerSocket(port, 64, lo);
		final AtomicLong echoed = new AtomicLong();
		final AtomicLong accepted = new AtomicLong();

		Thread acceptor = new Thread(() -> {
			try {
				for (int i = 0; i < k; i++) {
					try (Socket s = server.accept()) {
						int b = s.getInputStream().read();
						s.getOutputStream().write(b);
						accepted.incrementAndGet();
					}
				}
			} catch (Exception e) {
				throw new RuntimeException(e);
			}
		});
		acceptor.start();

		List<Thread> clients = new ArrayList<>();
		for (int t = 0; t < nthreads; t++) {
			final int share = k / nthreads + (t < k % nthreads ? 1 : 0);
			Thread c = new Thread(() -> {
				try {
					for (int i = 0; i < share; i++) {
						try (Socket s = new Socket(lo, server.getLocalPort())) {
							OutputStream out = s.getOutputStream();
							InputStream in = s.getInputStream();
							out.write('x');
							if (in.read() == 'x')
								echoed.incrementAndGet();
						}
					}
				} catch (Exception e) {
					throw new RuntimeException(e);
				}
			});
			clients.add(c);
			c.start();
		}
		for (Thread c : clients)
			c.join();
		acceptor.join();
		server.close();
		System.out.println("threads " + nthreads + " connections " + k + " echoed " + echoed.get() +
				   " accepted " + accepted.get());
	}
}
