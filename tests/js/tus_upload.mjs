// Uploads one file with tus-js-client (Node), as the web client does, and prints the outcome
// as JSON: {"url": ..., "clipId": ..., "progress": [...]}. Exit status 1 on failure.
//   node tus_upload.mjs ENDPOINT TOKEN FILE CHUNK_SIZE PARALLEL [CAPTION]
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import * as tus from 'tus-js-client'

const [endpoint, token, file, chunkSize, parallel, caption = ''] = process.argv.slice(2)
const data = readFileSync(file)
const offsets = []

const upload = new tus.Upload(data, {
  endpoint,
  headers: { Authorization: `Bearer ${token}` },
  chunkSize: Number(chunkSize),
  parallelUploads: Number(parallel),
  retryDelays: [0, 500, 1000, 2000],
  metadata: { filename: basename(file), caption, hashtags: 'node tus' },
  onProgress (sent, total) { offsets.push([sent, total]) },
  onError (error) {
    const response = error.originalResponse
    process.stderr.write(JSON.stringify({
      error: String(error.message || error),
      status: response ? response.getStatus() : null,
      body: response ? response.getBody() : null
    }) + '\n')
    process.exit(1)
  },
  onSuccess (payload) {
    const response = payload && payload.lastResponse
    process.stdout.write(JSON.stringify({
      url: upload.url,
      clipId: response ? response.getHeader('Clipfeed-Clip-Id') : null,
      progressEvents: offsets.length
    }) + '\n')
  }
})
upload.start()
