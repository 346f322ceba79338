// Preloaded into a process with NODE_OPTIONS="--import=<this file>" (Node refuses --cpu-prof
// in NODE_OPTIONS): profiles the main thread with V8's sampling profiler from start to exit
// and writes <SISPORTA_BENCH_CPU_PROF_DIR>/CPU.<pid>.cpuprofile, the format `node --cpu-prof`
// writes and Chrome DevTools opens. A main-thread inspector session answers synchronously, so
// the profile can be taken in the 'exit' handler.
import { Session } from 'node:inspector'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'

const dir = process.env.SISPORTA_BENCH_CPU_PROF_DIR
if (dir) {
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.start')
  process.once('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (!err) writeFileSync(join(dir, `CPU.${process.pid}.cpuprofile`), JSON.stringify(result.profile))
    })
  })
}
