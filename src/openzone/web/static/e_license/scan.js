// Scan the holder's consent QR code with the camera and submit it; typing the code stays possible without a camera.
// Uses the browser's BarcodeDetector where it reads QR codes, else the vendored jsQR (window.jsQR).
const box = document.getElementById("scanner");
const start = document.getElementById("scan-start");
const video = document.getElementById("scan-video");
const status = document.getElementById("scan-status");

async function detector() {
  if ("BarcodeDetector" in window) {
    const formats = await window.BarcodeDetector.getSupportedFormats();
    if (formats.includes("qr_code")) {
      const d = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async (source) => (await d.detect(source))[0]?.rawValue;
    }
  }
  if (typeof window.jsQR !== "function") return null;
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  return async (source) => {
    canvas.width = source.videoWidth;
    canvas.height = source.videoHeight;
    ctx.drawImage(source, 0, 0);
    const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
    return window.jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" })?.data;
  };
}

async function scan() {
  const read = await detector();
  if (!read) {
    status.textContent = box.dataset.noDecoder || "";
    return;
  }
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
  } catch (err) {
    status.textContent = `${err.name}`;
    return;
  }
  video.srcObject = stream;
  video.hidden = false;
  await video.play();
  const form = document.getElementById(box.dataset.scanForm);
  const input = document.getElementById(box.dataset.scanInput);
  const tick = async () => {
    if (video.readyState >= video.HAVE_ENOUGH_DATA) {
      const text = await read(video);
      if (text && text.startsWith("ozc1:")) {
        stream.getTracks().forEach((t) => t.stop());
        input.value = text;
        form.submit();
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
}

if (box && start && navigator.mediaDevices?.getUserMedia) {
  start.hidden = false;
  start.addEventListener("click", () => { start.disabled = true; scan(); });
}
