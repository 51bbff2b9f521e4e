// SPDX-License-Identifier: MIT
// A JVM thread pool for the threads suite (java Pool THREADS TASKS CPU_MS GAP_MS IDLE_MS): a fixed pool of THREADS runs TASKS tasks of CPU_MS of CPU time each, GAP_MS apart (0: all at once), then the pool idles IDLE_MS.
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

public class Pool {
	static volatile long[] garbage;

	// Spin until ns of this thread's CPU time have passed, allocating as
	// it goes (the collector's threads get work too): busy however loaded
	// the machine is.
	static long burn(long ns) {
		ThreadMXBean mx = ManagementFactory.getThreadMXBean();
		long end = mx.getCurrentThreadCpuTime() + ns, x = 0;
		while (mx.getCurrentThreadCpuTime() < end) {
			for (int i = 0; i < 10000; i++)
				x += i * x + 1;
			garbage = new long[64];
		}
		return x;
	}

	public static void main(String[] a) throws Exception {
		int threads = Integer.parseInt(a[0]), tasks = Integer.parseInt(a[1]);
		long cpuMs = Long.parseLong(a[2]), gapMs = Long.parseLong(a[3]);
		long idleMs = Long.parseLong(a[4]);
		ThreadPoolExecutor pool = new ThreadPoolExecutor(threads, threads, 0, TimeUnit.MILLISECONDS,
								 new LinkedBlockingQueue<Runnable>());
		List<Future<Long>> fs = new ArrayList<>();
		long s = 0;

		pool.prestartAllCoreThreads();
		for (int i = 0; i < tasks; i++) {
			fs.add(pool.submit(() -> burn(cpuMs * 1000000L)));
			if (gapMs > 0) {
				s += fs.get(i).get();
				Thread.sleep(gapMs);
			}
		}
		for (Future<Long> f : fs)
			s += f.get();
		Thread.sleep(idleMs);
		pool.shutdown();
		pool.awaitTermination(1, TimeUnit.MINUTES);
		System.out.println("tasks=" + fs.size() + " sum=" + (s != 1));
	}
}
