/**
 * Uploads from the page with progress: XMLHttpRequest (fetch has no upload
 * progress) to a dashboard API path, the progress bar following the bytes
 * sent. Used by the one-file upload (app.ts) and the folder upload (folders.ts).
 */
import { apiBase } from './dom.js'

export interface UploadAnswer {
  status: number
  /** The JSON answer, or undefined when it was not JSON. */
  body: any
}

/**
 * POSTs `body` to `<api><path>`, showing `progress` while it is sent.
 * @throws {Error} when the connection is lost (an HTTP error status is an answer, not a throw)
 */
export async function sendWithProgress (path: string, body: XMLHttpRequestBodyInit, progress: HTMLProgressElement, contentType?: string): Promise<UploadAnswer> {
  return await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', apiBase + path)
    if (contentType != null) xhr.setRequestHeader('content-type', contentType)
    progress.hidden = false
    progress.value = 0
    xhr.upload.onprogress = e => { if (e.lengthComputable) progress.value = Math.round((e.loaded / e.total) * 100) }
    xhr.onload = () => {
      progress.hidden = true
      let data: any
      try { data = JSON.parse(xhr.responseText) } catch { data = undefined }
      resolve({ status: xhr.status, body: data })
    }
    xhr.onerror = () => {
      progress.hidden = true
      reject(new Error('The upload failed: the connection to the orchestrator was lost.'))
    }
    xhr.send(body)
  })
}
