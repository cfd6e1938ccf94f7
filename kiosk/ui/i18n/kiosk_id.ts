<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="id_ID">
  <context>
    <name>Kiosk</name>
    <message>
      <source>Come closer</source>
      <translation>Mendekatlah ke kamera</translation>
    </message>
    <message>
      <source>Move your face to the centre</source>
      <translation>Posisikan wajah di tengah</translation>
    </message>
    <message>
      <source>Look straight at the camera</source>
      <translation>Hadapkan wajah ke kamera</translation>
    </message>
    <message>
      <source>Hold your head straight</source>
      <translation>Tegakkan kepala</translation>
    </message>
    <message>
      <source>Too dark</source>
      <translation>Terlalu gelap</translation>
    </message>
    <message>
      <source>Too bright: light behind you</source>
      <translation>Terlalu terang: cahaya dari belakang</translation>
    </message>
    <message>
      <source>Hold still</source>
      <translation>Diam sebentar</translation>
    </message>
    <message>
      <source>Face not recognised</source>
      <translation>Wajah tidak dikenali</translation>
    </message>
    <message>
      <source>Please try again, or contact HR</source>
      <translation>Silakan coba lagi, atau hubungi bagian kepegawaian</translation>
    </message>
    <message>
      <source>Already recorded at %1</source>
      <translation>Sudah tercatat pukul %1</translation>
    </message>
    <message>
      <source>IN %1</source>
      <translation>MASUK %1</translation>
    </message>
    <message>
      <source>OUT %1</source>
      <translation>PULANG %1</translation>
    </message>
    <message>
      <source>BREAK %1</source>
      <translation>ISTIRAHAT %1</translation>
    </message>
    <message>
      <source>BACK %1</source>
      <translation>KEMBALI %1</translation>
    </message>
    <message>
      <source>Outside working hours</source>
      <translation>Di luar jam kerja</translation>
    </message>
    <message>
      <source>Late %1 minutes</source>
      <translation>Terlambat %1 menit</translation>
    </message>
    <message>
      <source>On time</source>
      <translation>Tepat waktu</translation>
    </message>
    <message>
      <source>Leaving %1 minutes early</source>
      <translation>Pulang cepat %1 menit</translation>
    </message>
    <message>
      <source>Goodbye, take care</source>
      <translation>Selamat jalan, hati-hati</translation>
    </message>
    <message>
      <source>Camera OK</source>
      <translation>Kamera siap</translation>
    </message>
    <message>
      <source>Camera starting</source>
      <translation>Kamera dinyalakan</translation>
    </message>
    <message>
      <source>Camera stopped</source>
      <translation>Kamera berhenti</translation>
    </message>
    <message>
      <source>Camera not available, retrying</source>
      <translation>Kamera tidak tersedia, mencoba lagi</translation>
    </message>
    <message>
      <source>Recognition ready</source>
      <translation>Pengenalan wajah siap</translation>
    </message>
    <message>
      <source>Recognition starting</source>
      <translation>Pengenalan wajah dimulai</translation>
    </message>
    <message>
      <source>Recognition restarting</source>
      <translation>Pengenalan wajah dimulai ulang</translation>
    </message>
    <message>
      <source>Recognition failed</source>
      <translation>Pengenalan wajah gagal</translation>
    </message>
    <message>
      <source>Clock synchronised</source>
      <translation>Jam tersinkron</translation>
    </message>
    <message>
      <source>Clock not synchronised</source>
      <translation>Jam belum tersinkron</translation>
    </message>
    <message>
      <source>Upload not configured</source>
      <translation>Unggah belum diatur</translation>
    </message>
    <message>
      <source>Upload configured</source>
      <translation>Unggah diatur</translation>
    </message>
    <message>
      <source>Waiting for upload: %1</source>
      <translation>Menunggu unggah: %1</translation>
    </message>
    <message>
      <source>Camera not available. Please use the paper attendance list.</source>
      <translation>Kamera tidak tersedia. Silakan isi daftar hadir kertas.</translation>
    </message>
    <message>
      <source>Records cannot be saved. Please use the paper attendance list.</source>
      <translation>Data tidak dapat disimpan. Silakan isi daftar hadir kertas.</translation>
    </message>
    <message>
      <source>Face recognition is restarting, please wait.</source>
      <translation>Pengenalan wajah sedang dimulai ulang, mohon tunggu.</translation>
    </message>
    <message>
      <source>Face recognition cannot start. Please use the paper attendance list.</source>
      <translation>Pengenalan wajah tidak dapat berjalan. Silakan isi daftar hadir kertas.</translation>
    </message>
  </context>
</TS>