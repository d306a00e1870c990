// The create screens' strings, under "create", join the app's dictionaries when a create screen
// first loads (importing this module waits for them); the feed route does not carry them.
import { addStrings } from "../i18n/index.svelte";

const en = {
  title: "New clip", signIn: "Sign in to post clips.", signInButton: "Sign in",
  record: "Record", pick: "Upload a file", dropHere: "Drop a video here or choose one",
  choose: "Choose a video", start: "Start recording", stop: "Stop recording", countdown: "Recording in {{count}}",
  flip: "Switch camera", takes: "Takes", take: "Take {{number}}, {{seconds}} s",
  deleteTake: "Delete take {{number}}", remaining: "{{used}} of {{limit}} s",
  limitReached: "Time limit reached ({{limit}} s).", next: "Next",
  joining: "Joining {{count}} takes…", back: "Back",
  camera: {
    denied: "The browser has no permission to use the camera and microphone. Allow them in the site settings, or upload a file instead.",
    missing: "No camera was found on this device. Upload a file instead.",
    busy: "The camera is in use by another app. Close it and try again.",
    insecure: "The camera works only on a secure (https) page. Upload a file instead.",
    other: "The camera could not start. Upload a file instead.",
    noRecorder: "This browser cannot record video (no MediaRecorder). Upload a file instead.",
    starting: "Starting the camera…", preview: "Camera preview",
  },
  file: {
    tooLarge: "This file is {{size}}; the largest accepted is {{limit}}.", notVideo: "This is not a video file.",
    chosen: "{{name}}, {{size}}",
  },
  post: {
    caption: "Caption", captionHint: "Type # for hashtags and @ to mention people you follow.",
    suggestions: "Suggestions", visibility: "Who can watch", comments: "Who can comment", send: "Post",
    visibilities: { public: "Everyone", unlisted: "People with the link", private: "Only me" },
    commentSettings: { everyone: "Everyone", followers: "Your followers", off: "Nobody (comments off)" },
    preview: "Preview of your clip", uses_one: "{{count}} clip", uses_other: "{{count}} clips",
  },
  upload: {
    title: "Uploading", progress: "Upload progress", sent: "{{sent}} of {{total}}",
    speed: "{{speed}}, {{left}} left", pause: "Pause upload", resume: "Resume upload", paused: "Paused.",
    queued: "Waiting for the uploads before it.",
    offline: "Connection lost. The upload continues when you are back online.",
    retrying: "Connection trouble; trying again…", failed: "The upload failed: {{reason}}",
    retry: "Try again", rejected: "The file was not accepted: {{reason}}",
    resumable: "Unfinished uploads (choose the same file again to continue)",
    resumed: "Continuing from {{sent}}.", again: "Post another clip",
  },
  status: {
    title: "Processing", stage: "{{stage}}, {{percent}} %", queued: "Waiting for a free worker ({{count}} ahead)",
    stages: { uploading: "Uploading", queued: "Waiting", uploaded: "Waiting", probing: "Checking the file",
      transcoding: "Making the video versions", packaging: "Packaging", thumbnails: "Making the cover",
      moderating: "Safety checks" },
    ready: "Your clip is live.", open: "Watch your clip", review: "A moderator will look at your clip before it is published.",
    rejected: "Your clip was not published: {{reason}}",
    rejectedHelp: "Check the file plays on your device, is a video with a picture, and respects the limits, then post it again.",
    failed: "Processing failed on our side. Please try again later.", lost: "Lost the live status; reconnecting…",
  },
};

const fr: typeof en = {
  title: "Nouveau clip", signIn: "Connectez-vous pour publier des clips.", signInButton: "Se connecter",
  record: "Filmer", pick: "Envoyer un fichier", dropHere: "Déposez une vidéo ici ou choisissez-en une",
  choose: "Choisir une vidéo", start: "Démarrer l’enregistrement", stop: "Arrêter l’enregistrement",
  countdown: "Enregistrement dans {{count}}", flip: "Changer de caméra", takes: "Prises",
  take: "Prise {{number}}, {{seconds}} s", deleteTake: "Supprimer la prise {{number}}",
  remaining: "{{used}} sur {{limit}} s", limitReached: "Durée maximale atteinte ({{limit}} s).", next: "Suivant",
  joining: "Assemblage de {{count}} prises…", back: "Retour",
  camera: {
    denied: "Le navigateur n’a pas l’autorisation d’utiliser la caméra et le micro. Autorisez-les dans les réglages du site, ou envoyez un fichier.",
    missing: "Aucune caméra trouvée sur cet appareil. Envoyez un fichier.",
    busy: "La caméra est utilisée par une autre application. Fermez-la et réessayez.",
    insecure: "La caméra ne fonctionne que sur une page sécurisée (https). Envoyez un fichier.",
    other: "La caméra n’a pas pu démarrer. Envoyez un fichier.",
    noRecorder: "Ce navigateur ne sait pas enregistrer de vidéo (pas de MediaRecorder). Envoyez un fichier.",
    starting: "Démarrage de la caméra…", preview: "Aperçu de la caméra",
  },
  file: {
    tooLarge: "Ce fichier fait {{size}} ; le maximum accepté est {{limit}}.", notVideo: "Ce n’est pas un fichier vidéo.",
    chosen: "{{name}}, {{size}}",
  },
  post: {
    caption: "Légende", captionHint: "Tapez # pour les hashtags et @ pour mentionner les personnes que vous suivez.",
    suggestions: "Suggestions", visibility: "Qui peut regarder", comments: "Qui peut commenter", send: "Publier",
    visibilities: { public: "Tout le monde", unlisted: "Les personnes qui ont le lien", private: "Moi seulement" },
    commentSettings: { everyone: "Tout le monde", followers: "Vos abonnés", off: "Personne (commentaires fermés)" },
    preview: "Aperçu de votre clip", uses_one: "{{count}} clip", uses_other: "{{count}} clips",
  },
  upload: {
    title: "Envoi", progress: "Progression de l’envoi", sent: "{{sent}} sur {{total}}",
    speed: "{{speed}}, encore {{left}}", pause: "Mettre l’envoi en pause", resume: "Reprendre l’envoi", paused: "En pause.",
    queued: "En attente des envois précédents.",
    offline: "Connexion perdue. L’envoi reprendra dès le retour du réseau.",
    retrying: "Problème de connexion ; nouvel essai…", failed: "L’envoi a échoué : {{reason}}",
    retry: "Réessayer", rejected: "Le fichier n’a pas été accepté : {{reason}}",
    resumable: "Envois inachevés (choisissez à nouveau le même fichier pour continuer)",
    resumed: "Reprise à partir de {{sent}}.", again: "Publier un autre clip",
  },
  status: {
    title: "Traitement", stage: "{{stage}}, {{percent}} %", queued: "En attente d’un serveur libre ({{count}} avant)",
    stages: { uploading: "Envoi", queued: "En attente", uploaded: "En attente", probing: "Vérification du fichier",
      transcoding: "Préparation des versions vidéo", packaging: "Mise en paquets", thumbnails: "Création de la couverture",
      moderating: "Contrôles de sécurité" },
    ready: "Votre clip est en ligne.", open: "Voir votre clip", review: "Un modérateur examinera votre clip avant sa publication.",
    rejected: "Votre clip n’a pas été publié : {{reason}}",
    rejectedHelp: "Vérifiez que le fichier se lit sur votre appareil, qu’il contient une image et respecte les limites, puis publiez-le à nouveau.",
    failed: "Le traitement a échoué de notre côté. Réessayez plus tard.", lost: "Statut en direct perdu ; reconnexion…",
  },
};

await addStrings({ en: async () => ({ create: en }), fr: async () => ({ create: fr }) });
